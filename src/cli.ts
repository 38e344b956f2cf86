import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { systemClock, type Clock } from './clock.js';
import { resolvePaths } from './config/paths.js';
import { configGeneration } from './config/config-generation.js';
import { createDeps, type Deps } from './deps.js';
import { ExitCode } from './errors.js';
import { renderError } from './ui/render-error.js';
import { Output } from './ui/output.js';
import { nonInteractivePrompter } from './ui/prompt.js';

export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  input?: boolean;
  color?: boolean;
}

/** A command module's entry: it gets its arguments, options and deps, and returns an exit code. */
type Runner = (deps: Deps, ...args: unknown[]) => Promise<number | void>;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Declares every command and its flags; the work itself is imported only when a command runs. */
export function buildProgram(
  run: (load: () => Promise<Runner>, args: unknown[], name: string) => Promise<void>,
  write: { out: (text: string) => void; err: (text: string) => void },
): Command {
  // Output and exit handling first: subcommands copy these settings when they are created.
  const program = new Command('mailctl')
    .exitOverride()
    .configureOutput({ writeOut: write.out, writeErr: write.err })
    .description('Configure, test and troubleshoot the email of a records system; run its mail daemon.')
    .version(version(), '-V, --version', 'print the mailctl version')
    .option('--json', 'machine-readable output (one JSON document on stdout)')
    .option('--debug', 'show stack traces and internal detail')
    .option('--no-input', 'never prompt; fail with the flag that is needed instead')
    .option('--no-color', 'plain output without colours (NO_COLOR is honoured too)')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', `
Examples:
  $ mailctl init --name acme-prod --url https://records.acme.test --environment production
  $ mailctl config set outbound_retry_interval 15m
  $ mailctl tables add contracts
  $ mailctl contacts add pat@acme.test --name "Pat Lee" --can-create contracts
  $ mailctl secrets status

Settings: MAILCTL_HOME (all files in one folder), MAILCTL_SECRET_BACKEND (keyring|file),
MAILCTL_MASTER_KEY (key for the encrypted secret file), NO_COLOR.`);

  // `lazy` keeps each command's module (and its heavy imports) out of start-up.
  const lazy = (load: () => Promise<Runner>) => async (...args: unknown[]) => run(load, args.slice(0, -1), (args.at(-1) as Command).name());

  program
    .command('init')
    .summary('create this installation\'s KB identity and its reference key')
    .description('Create the KB identity: name, server URL, environment, and a per-KB key for the reference carried by outbound mail.')
    .option('--name <name>', 'KB name, e.g. acme-prod')
    .option('--url <url>', 'the records server URL, e.g. https://records.acme.test')
    .addOption(new Option('--environment <env>', 'production, test or dev').choices(['production', 'test', 'dev']))
    .option('--force', 'change the name, URL or environment of an existing KB (its keys are kept)')
    .addHelpText('after', '\nExamples:\n  $ mailctl init\n  $ mailctl init --name acme-test --url https://test.acme.test --environment test')
    .action(lazy(async () => (await import('./commands/init/run-init.js')).runInit as Runner));

  const config = program.command('config').summary('show and change global variables').description('Show and change the global variables (polling frequency, retry schedule, size limits, kill switch, test-KB safety).');
  config
    .command('show')
    .description('list every global variable with its value, default and meaning')
    .addHelpText('after', '\nExample:\n  $ mailctl config show --json')
    .action(lazy(async () => (await import('./commands/config/run-config.js')).runConfigShow as Runner));
  config
    .command('get')
    .argument('<name>', 'variable name, e.g. outbound_retry_interval')
    .description('print one global variable')
    .addHelpText('after', '\nExample:\n  $ mailctl config get max_attachment_size')
    .action(lazy(async () => (await import('./commands/config/run-config.js')).runConfigGet as Runner));
  config
    .command('set')
    .argument('<name>', 'variable name')
    .argument('<value>', 'new value: durations like 30s, 1m, 5d; sizes like 512KB, 10MB; true/false')
    .description('change one global variable (validated; nothing is written on a bad value)')
    .addHelpText('after', '\nExamples:\n  $ mailctl config set inbound_check_frequency 2m\n  $ mailctl config set max_attachment_size 25MB\n  $ mailctl config set nonproduction_redirect qa@acme.test')
    .action(lazy(async () => (await import('./commands/config/run-config.js')).runConfigSet as Runner));
  config
    .command('unset')
    .argument('<name>', 'variable name')
    .description('return one global variable to its default')
    .action(lazy(async () => (await import('./commands/config/run-config.js')).runConfigUnset as Runner));

  const configure = program.command('configure').summary('set up the outbound server and inbound accounts (wizards)').description('Wizards for the mail servers. Every question is also a flag, for scripts.');
  configure
    .command('server')
    .description('set up the outbound SMTP server; verifies the connection and login before saving')
    .addOption(new Option('--preset <name>', 'fill host, port and security for a provider').choices(['microsoft365', 'gmail']))
    .option('--host <host>', 'SMTP host')
    .option('--port <port>', 'SMTP port (default by security: 587, 465, 25)')
    .addOption(new Option('--security <mode>', 'tls (on connect), starttls (required) or none').choices(['tls', 'starttls', 'none']))
    .addOption(new Option('--auth <type>', 'how to log in').choices(['none', 'password', 'oauth2']))
    .option('--username <user>', 'login user, usually the mailbox address')
    .option('--secret-stdin', 'read the password or client secret from standard input (never pass secrets as arguments)')
    .addOption(new Option('--oauth-provider <provider>', 'OAuth 2.0 provider').choices(['microsoft', 'google', 'generic']))
    .option('--tenant <tenant>', 'Microsoft tenant id or domain')
    .option('--client-id <id>', 'OAuth client (application) id')
    .option('--token-url <url>', 'token endpoint (generic provider)')
    .option('--scope <scope>', 'OAuth scope, when not the provider default')
    .addOption(new Option('--oauth-flow <flow>', 'OAuth grant').choices(['client_credentials', 'device_code', 'authorization_code', 'refresh_token']))
    .option('--authority <url>', 'Microsoft: another authority (sovereign cloud); Google/generic: the issuer to discover')
    .option('--from <address>', 'from-address for all outbound mail')
    .option('--properties-file <file>', 'custom configuration properties (key=value text)')
    .option('--tls-skip-verify', 'accept an untrusted certificate from THIS server (turns verification off for it)')
    .option('--no-tls-skip-verify', 'verify this server\'s certificate again')
    .option('--tls-ca <file>', 'trust this CA certificate (PEM) for this server')
    .option('--max-connections <n>', 'SMTP connections the queue opens at once (default 3, Microsoft 365\'s limit); fewer while the server throttles')
    .option('--max-per-minute <n>', 'messages started per minute at most, for providers that cap it (Microsoft 365: 30); "off" for no limit (the default)')
    .option('--no-verify', 'save without connecting first')
    .option('--timeout <duration>', 'how long each step may take', '20s')
    .addHelpText('after', `
Examples:
  $ mailctl configure server
  $ mailctl configure server --max-connections 2 --max-per-minute 30
  $ mailctl configure server --preset microsoft365 --auth oauth2 --oauth-provider microsoft \\
      --tenant acme.onmicrosoft.com --client-id 1111-… --username records@acme.test --from records@acme.test --secret-stdin < secret.txt
  $ printf %s "$SMTP_PASSWORD" | mailctl configure server --host mail.acme.test --security starttls \\
      --auth password --username records@acme.test --from records@acme.test --secret-stdin`)
    .action(lazy(async () => (await import('./commands/configure/run-configure-server.js')).runConfigureServer as Runner));

  configure
    .command('inbound')
    .argument('[table]', 'the table this account feeds (asked when missing)')
    .description('set up the inbound account of a table: Table → Server → Account → Options → Finish, each step checked')
    .addOption(new Option('--protocol <protocol>', 'imap, pop3 or graph').choices(['imap', 'pop3', 'graph']))
    .option('--host <host>', 'IMAP/POP3 host')
    .option('--port <port>', 'port (default by protocol and security: 993/143, 995/110)')
    .addOption(new Option('--security <mode>', 'tls (on connect), starttls (required) or none').choices(['tls', 'starttls', 'none']))
    .option('--tls-skip-verify', 'accept an untrusted certificate from THIS account\'s server')
    .option('--no-tls-skip-verify', 'verify the certificate again')
    .option('--tls-ca <file>', 'trust this CA certificate (PEM) for this account')
    .option('--graph-url <url>', 'Graph API base URL (default https://graph.microsoft.com/v1.0)')
    .option('--mailbox <address>', 'Graph: the mailbox to read')
    .addOption(new Option('--auth <type>', 'password or oauth2').choices(['password', 'oauth2']))
    .option('--username <user>', 'login user, usually the mailbox address')
    .option('--secret-stdin', 'read the password or client secret from standard input')
    .addOption(new Option('--oauth-provider <provider>', 'OAuth 2.0 provider').choices(['microsoft', 'google', 'generic']))
    .option('--tenant <tenant>', 'Microsoft tenant id or domain')
    .option('--client-id <id>', 'OAuth client (application) id')
    .option('--token-url <url>', 'token endpoint (generic provider)')
    .addOption(new Option('--oauth-flow <flow>', 'OAuth grant').choices(['client_credentials', 'device_code', 'authorization_code', 'refresh_token']))
    .option('--authority <url>', 'Microsoft: another authority (sovereign cloud); Google/generic: the issuer to discover')
    .option('--folder <folder>', 'folder to read (IMAP/Graph; POP3 reads the INBOX)')
    .option('--create-records', 'known contacts may create records by email (default)')
    .option('--no-create-records', 'email never creates records, only updates them')
    .addOption(new Option('--unknown-sender <policy>', 'what to do with mail from strangers').choices(['ignore', 'reject', 'guest']))
    .option('--guest <address>', 'the guest contact strangers\' records are created under')
    .addOption(new Option('--notes <content>', 'what goes into the additional notes').choices(['new-text', 'whole-body']))
    .addOption(new Option('--after <action>', 'after processing: mark-read, move, delete (IMAP/Graph); keep, delete (POP3)').choices(['mark-read', 'move', 'delete', 'keep']))
    .option('--move-to <folder>', 'folder for --after move (checked on the server)')
    .option('--create-folder', 'create the --move-to folder on the server if it does not exist')
    .option('--properties-file <file>', 'custom configuration properties (key=value text)')
    .option('--no-verify', 'save without checking the server and the account')
    .option('--timeout <duration>', 'how long each step may take', '20s')
    .addHelpText('after', `
Examples:
  $ mailctl configure inbound contracts
  $ printf %s "$IMAP_PASSWORD" | mailctl configure inbound contracts --protocol imap --host imap.acme.test \\
      --security tls --auth password --username contracts@acme.test --secret-stdin --folder INBOX \\
      --create-records --unknown-sender guest --guest guest@acme.test --notes new-text --after mark-read`)
    .action(lazy(async () => (await import('./commands/configure/run-configure-inbound.js')).runConfigureInbound as Runner));

  program
    .command('test-inbound')
    .argument('[table]', 'one account (default: all)')
    .summary('check inbound accounts: server, then account; changes nothing')
    .description('For each inbound account: the server check (reachable, TLS, greeting) and the account check (login, folder). Nothing in the mailbox is changed. Exit 1 if any check fails.')
    .option('--timeout <duration>', 'how long each step may take', '20s')
    .addHelpText('after', '\nExamples:\n  $ mailctl test-inbound\n  $ mailctl test-inbound contracts --json')
    .action(lazy(async () => (await import('./commands/test-inbound/run-test-inbound.js')).runTestInbound as Runner));

  const inbound = program.command('inbound').summary('list and remove inbound accounts');
  inbound
    .command('list')
    .description('list inbound accounts')
    .action(lazy(async () => (await import('./commands/inbound/run-inbound.js')).runInboundList as Runner));
  inbound
    .command('remove')
    .argument('<table>', 'the table whose account to remove')
    .description('remove an inbound account and its stored secrets')
    .action(lazy(async () => (await import('./commands/inbound/run-inbound.js')).runInboundRemove as Runner));
  inbound
    .command('disable')
    .argument('<table>', 'the table whose account to stop polling')
    .description('stop polling an inbound account, keeping its settings and secrets')
    .action(lazy(async () => (await import('./commands/inbound/run-inbound.js')).runInboundDisableCommand as Runner));
  inbound
    .command('enable')
    .argument('<table>', 'the table whose account to poll again')
    .description('resume polling an inbound account that was disabled')
    .action(lazy(async () => (await import('./commands/inbound/run-inbound.js')).runInboundEnableCommand as Runner));

  program
    .command('test-send')
    .summary('send a test message through the outbound server and explain any failure')
    .description('Send a test message through the configured outbound server. On failure: the phase (connect, tls, greeting, auth, sender, recipient, data, after-data) with its own exit code, the server\'s exact words, the cause and the fix.')
    .requiredOption('--to <address>', 'where to send the test message')
    .option('--transcript', 'print the SMTP conversation (credentials hidden)')
    .addOption(new Option('--quit-after <phase>', 'stop after this phase without sending').choices(['connect', 'tls', 'auth', 'recipient']))
    .option('--timeout <duration>', 'how long each step may take', '30s')
    .addHelpText('after', `
Exit codes: 0 sent · 10 connect · 11 tls · 12 greeting · 13 auth · 14 sender · 15 recipient · 16 data · 17 after data · 18 refused before sending (from-address, size)

Examples:
  $ mailctl test-send --to you@acme.test
  $ mailctl test-send --to you@acme.test --transcript
  $ mailctl test-send --to you@acme.test --quit-after auth --timeout 10s`)
    .action(lazy(async () => (await import('./commands/test-send/run-test-send.js')).runTestSend as Runner));

  program
    .command('reset-oauth')
    .argument('[which]', 'outbound, or inbound')
    .argument('[table]', 'the table, for inbound')
    .summary('drop the OAuth tokens and sign in again, then verify')
    .description('Drop the stored OAuth tokens and get new ones: client credentials at once; delegated sign-in by device code (or --browser). Then verify the account (outbound: login, and an offered test message).')
    .option('--all', 'every account that uses OAuth')
    .option('--browser', 'delegated sign-in in a browser (loopback redirect) instead of a device code')
    .option('--test-to <address>', 'outbound: send a test message here after the reset')
    .option('--no-verify', 'do not verify the account afterwards')
    .option('--timeout <duration>', 'how long each server step may take', '20s')
    .addHelpText('after', '\nExamples:\n  $ mailctl reset-oauth outbound\n  $ mailctl reset-oauth inbound contracts\n  $ mailctl reset-oauth --all')
    .action(lazy(async () => (await import('./commands/reset-oauth/run-reset-oauth.js')).runResetOAuth as Runner));

  program
    .command('rotate-secret')
    .summary('replace an expired client secret everywhere it is stored, verify, or roll back')
    .description('Find every client_secret (outbound and every inbound account, prefixed keys and OAuth fields), replace only the secret text, renew the tokens and verify each account. If a check fails, every old value and token comes back (unless you keep the new secret). A run killed half-way is finished or undone by the next mailctl command.')
    .option('--secret-stdin', 'read the new secret from standard input (otherwise a hidden prompt, asked twice)')
    .option('--dry-run', 'show what would be replaced; change nothing')
    .option('--force', 'accept a new secret that looks like a secret ID (a GUID)')
    .option('--keep-on-failure', 'keep the new secret even if an account fails its check')
    .option('--include-other-apps', 'also replace the secret of places that use another client id')
    .option('--no-verify', 'do not renew tokens and verify the accounts')
    .option('--timeout <duration>', 'how long each server step may take', '20s')
    .addHelpText('after', '\nExamples:\n  $ mailctl rotate-secret --dry-run\n  $ mailctl rotate-secret\n  $ vault read -field=value secret/mail-app | mailctl rotate-secret --secret-stdin --json')
    .action(lazy(async () => (await import('./commands/rotate-secret/run-rotate-secret.js')).runRotateSecret as Runner));

  program
    .command('explain')
    .argument('[text...]', 'the error text (or - for standard input)')
    .summary('say what an error message means and what to do')
    .option('--file <file>', 'read the error text from a file')
    .addHelpText('after', '\nExamples:\n  $ mailctl explain "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."\n  $ mailctl explain --file error.txt\n  $ journalctl -u mailctl | tail -1 | mailctl explain -')
    .action(lazy(async () => (await import('./commands/explain/run-explain.js')).runExplain as Runner));

  program
    .command('daemon')
    .summary('poll inbound mailboxes into records and communications')
    .description('Polls the inbound accounts when due and sends the outbound queue, until SIGTERM/SIGINT (SIGHUP reloads the config). One daemon per KB. --once polls every enabled account now (a full sweep for IMAP and Graph when due, or with --sweep), sends what is due, and exits: for cron, systemd timers and tests.')
    .option('--once', 'one cycle, then exit')
    .option('--sweep', 'make this a full sweep (IMAP: ignores the \\Seen flag; Graph: lists the whole folder, its delta started over)')
    .option('--timeout <duration>', 'how long each server step may take', '30s')
    .option('--tick <duration>', 'how often the scheduler looks for due work', '1s')
    .option('--log-file <file>', 'write JSON log lines here instead of standard output')
    .option('--metrics <[host:]port>', 'serve Prometheus metrics at /metrics and a health check at /healthz (host 127.0.0.1 unless given; other hosts expose account names)')
    .addHelpText('after', '\nExamples:\n  $ mailctl daemon --once\n  $ mailctl daemon --once --sweep --json\n  $ mailctl daemon --metrics 9464')
    .action(lazy(async () => (await import('./commands/daemon/run-daemon.js')).runDaemon as Runner));

  const comms = program
    .command('comms')
    .summary('communications: every inbound and outbound email, with what was done')
    .description('Every email taken or sent, with what was done and why; the whole message is kept (comms raw), with its headers, text and attachments.');
  comms
    .command('list')
    .option('--table <table>', 'only this table')
    .option('--record <id>', 'only this record')
    .option('--disposition <d>', 'only these dispositions, comma-separated (quarantined, ignored, duplicate, record-created, …)')
    .option('--since <when>', 'only those taken since: a duration back (7d, 12h) or a date (2026-11-01)')
    .option('--limit <n>', 'at most this many (newest first)', '100')
    .description('list communications, newest first; the reason is cut to the terminal\'s width (--json has it whole)')
    .addHelpText('after', '\nExamples:\n  $ mailctl comms list --disposition quarantined --since 7d\n  $ mailctl comms list --record 42 --json')
    .action(lazy(async () => (await import('./commands/comms/run-comms.js')).runCommsList as Runner));
  comms
    .command('show')
    .argument('<id>', 'communication id')
    .option('--headers', 'print the header block as received, and nothing else')
    .description('one communication: who, when, what was done and why, the reference, the record, the text and the attachments')
    .addHelpText('after', '\nExamples:\n  $ mailctl comms show 42\n  $ mailctl comms show 42 --headers\n  $ mailctl comms show 42 --json')
    .action(lazy(async () => (await import('./commands/comms/run-comms-show.js')).runCommsShow as Runner));
  comms
    .command('raw')
    .argument('<id>', 'communication id')
    .option('-o, --output <file>', 'write the message to this file (.eml); - is standard output')
    .option('--force', 'replace an existing regular file (never a link or device); to standard output, write to a terminal anyway')
    .description('the message byte for byte as received or sent, checked against its SHA-256')
    .addHelpText('after', '\nWithout -o (or with -o -) the bytes go to standard output, which must be a pipe or a file.\n\nExamples:\n  $ mailctl comms raw 42 -o message-42.eml\n  $ mailctl comms raw 42 | less')
    .action(lazy(async () => (await import('./commands/comms/run-comms-raw.js')).runCommsRaw as Runner));
  comms
    .command('attachment')
    .argument('<id>', 'communication id')
    .argument('[which]', 'the attachment\'s number (as comms show lists it) or its file name')
    .option('-o, --output <file>', 'write the attachment to this file; - is standard output (a pipe or a file)')
    .option('--all <dir>', 'save every attachment in this folder (names made safe)')
    .option('--force', 'replace existing regular files (never a link or device); with -o -, write to a terminal anyway')
    .description('save attachments byte for byte from the message store')
    .addHelpText('after', '\nExamples:\n  $ mailctl comms attachment 42 1 -o contract.pdf\n  $ mailctl comms attachment 42 contract.pdf -o ~/contract.pdf\n  $ mailctl comms attachment 42 --all ./comm-42\n  $ mailctl comms attachment 42 1 -o - | pdftotext - -')
    .action(lazy(async () => (await import('./commands/comms/run-comms-attachment.js')).runCommsAttachment as Runner));
  comms
    .command('replay')
    .argument('<id>', 'an inbound communication id')
    .description('run a stored inbound message through the rules again (after a fix, an upgrade, a contact added), once; the new outcome is kept beside the old')
    .addHelpText('after', '\nExamples:\n  $ mailctl comms list --disposition quarantined\n  $ mailctl comms replay 42')
    .action(lazy(async () => (await import('./commands/comms/run-comms-replay.js')).runCommsReplay as Runner));
  comms
    .command('purge')
    .option('--older-than <duration>', 'purge the content of communications older than this (at least 1d; default: message_retention)')
    .option('--dry-run', 'say how many communications and bytes would go; change nothing')
    .description('remove the stored content (raw message, attachments, text and HTML) of old communications; their rows, header blocks and the records\' notes stay')
    .addHelpText('after', '\nAn outbound message still waiting in the queue keeps its content; a stored item a newer communication also refers to stays.\n\nExamples:\n  $ mailctl comms purge --older-than 365d --dry-run\n  $ mailctl config set message_retention 365d && mailctl comms purge')
    .action(lazy(async () => (await import('./commands/comms/run-comms-purge.js')).runCommsPurge as Runner));

  program
    .command('store')
    .summary('the message store (raw messages and attachments)')
    .command('gc')
    .option('--dry-run', 'say what would be removed; change nothing')
    .description('remove stored items no communication refers to (left by a crash, or freed by a purge) and temporary files of dead processes')
    .addHelpText('after', '\nItems newer than the start of a running mailctl that writes to the store are left for a later run.\n\nExamples:\n  $ mailctl store gc --dry-run\n  $ mailctl store gc --json')
    .action(lazy(async () => (await import('./commands/store/run-store-gc.js')).runStoreGc as Runner));

  program
    .command('send')
    .summary('queue an email about a record (the daemon sends it)')
    .requiredOption('--table <table>', 'the record\'s table')
    .requiredOption('--record <id>', 'the record id')
    .requiredOption('--to <address...>', 'recipients')
    .requiredOption('--subject <subject>', 'subject')
    .option('--body <text>', 'the body text')
    .option('--body-file <file>', 'read the body from a file')
    .option('--attach <file...>', 'attachments')
    .option('--rule <id>', 'the rule or workflow that sends it (shown in the reference; at most 64 letters, digits, . _ : / -)')
    .option('--from <address>', 'from-address (default: the outbound server\'s)')
    .addHelpText('after', '\nExample:\n  $ mailctl send --table contracts --record 42 --to pat@acme.test --subject "Renewal due" --body-file note.txt --rule renewal-reminder')
    .action(lazy(async () => (await import('./commands/send/run-send.js')).runSend as Runner));

  const queue = program.command('queue').summary('the outbound queue (list, show, retry, delete, hold, release)');
  queue.command('list').addOption(new Option('--status <status>', 'only this status').choices(['queued', 'deferred', 'sending', 'sent', 'failed', 'abandoned', 'duplicate', 'held']))
    .description('list queued messages with counts by status')
    .action(lazy(async () => (await import('./commands/queue/run-queue.js')).runQueueList as Runner));
  queue.command('show').argument('<id>').description('a message with every attempt and the server\'s words')
    .action(lazy(async () => (await import('./commands/queue/run-queue.js')).runQueueShow as Runner));
  queue.command('retry').argument('[id]').option('--all', 'every deferred and held message').description('make a message due now')
    .action(lazy(async () => (await import('./commands/queue/run-queue.js')).runQueueRetry as Runner));
  queue.command('delete').argument('<id>').description('remove a message from the queue')
    .action(lazy(async () => (await import('./commands/queue/run-queue.js')).runQueueDelete as Runner));
  queue.command('hold').argument('<id>').description('keep a message from being sent')
    .action(lazy(async () => (await import('./commands/queue/run-queue.js')).runQueueHold as Runner));
  queue.command('release').argument('<id>').description('let a held message be sent')
    .action(lazy(async () => (await import('./commands/queue/run-queue.js')).runQueueRelease as Runner));

  program
    .command('doctor')
    .summary('run every check and say what is wrong, why, and the command that fixes it')
    .description('Runs the troubleshooting guide against this installation: sending limits and from-address, servers and accounts, the daemon, duplicates, OAuth tokens, secrets and file modes, the message store (space, missing or corrupt content). Findings are grouped by symptom; exit 1 when any is an error.')
    .addOption(new Option('--only <area>', 'only the checks of one area').choices(['outbound', 'inbound', 'oauth', 'queue', 'config', 'store']))
    .option('--no-network', 'static checks only: no server is contacted, no token renewed')
    .option('--verify-store', 'read back and verify the hash of every stored item (default: every item is checked to exist, the newest 256 MB are verified)')
    .option('--timeout <duration>', 'per server check', '10s')
    .option('--log-file <file>', 'also check the daemon\'s --log-file as the daemon would open it (owner, mode, links, the folders above)')
    .addHelpText('after', '\nExamples:\n  $ mailctl doctor\n  $ mailctl doctor --only oauth\n  $ mailctl doctor --no-network --json\n  $ mailctl doctor --only store --verify-store')
    .action(lazy(async () => (await import('./commands/doctor/run-doctor.js')).runDoctor as Runner));

  program
    .command('status')
    .summary('one screen: the daemon, each inbound account\'s last poll, the queue')
    .option('--watch [interval]', 'redraw every interval (default 2s) until Ctrl-C')
    .option('--check', 'one line for monitoring (Nagios style) and its exit code: 0 healthy, 1 degraded, 2 down')
    .addHelpText('after', '\nExamples:\n  $ mailctl status\n  $ mailctl status --watch 5s\n  $ mailctl status --json\n  $ mailctl status --check   # MAILCTL OK - …; exit 0 OK, 1 WARNING, 2 CRITICAL')
    .action(lazy(async () => (await import('./commands/status/run-status.js')).runStatus as Runner));

  program
    .command('headers')
    .summary('decode the reference carried by a received email')
    .command('decode')
    .argument('[file]', 'a raw email (.eml), or - for standard input')
    .option('--comm <id>', 'the header block stored with this communication, instead of a file')
    .description('show which KB, table, record and rule or workflow sent an email, and when')
    .addHelpText('after', '\nExamples:\n  $ mailctl headers decode unexpected.eml\n  $ pbpaste | mailctl headers decode -\n  $ mailctl headers decode --comm 42')
    .action(lazy(async () => (await import('./commands/headers/run-headers-decode.js')).runHeadersDecode as Runner));

  const keys = program.command('keys').summary('the KB\'s reference keys');
  keys
    .command('list')
    .description('list reference key ids')
    .action(lazy(async () => (await import('./commands/keys/run-keys.js')).runKeysList as Runner));
  keys
    .command('rotate')
    .description('make a new key for new mail; older keys keep decoding replies')
    .action(lazy(async () => (await import('./commands/keys/run-keys.js')).runKeysRotate as Runner));

  program
    .command('secrets')
    .summary('where secrets are kept')
    .command('status')
    .description('say which secret backend is in use (keyring or encrypted file) and why')
    .addHelpText('after', '\nExample:\n  $ mailctl secrets status --json')
    .action(lazy(async () => (await import('./commands/secrets/run-secrets-status.js')).runSecretsStatus as Runner));

  const properties = program.command('properties').summary('custom configuration properties (key=value text)').description('Show or replace the custom configuration properties of the outbound server. Secret values are moved to the secret store.');
  properties
    .command('show')
    .argument('<place>', '"outbound"')
    .description('print the properties with secret values masked')
    .action(lazy(async () => (await import('./commands/properties/run-properties.js')).runPropertiesShow as Runner));
  properties
    .command('set')
    .argument('<place>', '"outbound"')
    .requiredOption('--file <path>', 'read the properties from this file, or - for stdin')
    .description('replace the properties; every byte is kept, secrets go to the secret store')
    .addHelpText('after', '\nExample:\n  $ mailctl properties set outbound --file smtp.properties')
    .action(lazy(async () => (await import('./commands/properties/run-properties.js')).runPropertiesSet as Runner));

  const tables = program.command('tables').summary('record tables fed by inbound accounts');
  tables
    .command('add')
    .argument('<name>', 'table name, e.g. contracts')
    .option('--label <label>', 'display name')
    .description('create a table')
    .action(lazy(async () => (await import('./commands/tables/run-tables.js')).runTablesAdd as Runner));
  tables
    .command('list')
    .description('list tables')
    .action(lazy(async () => (await import('./commands/tables/run-tables.js')).runTablesList as Runner));

  const contacts = program.command('contacts').summary('known senders and guest accounts');
  contacts
    .command('add')
    .argument('<email>', 'the contact\'s address')
    .option('--name <name>', 'display name')
    .option('--guest', 'a guest account, used to create records for unknown senders')
    .option('--can-create <table...>', 'tables in which this contact may create records by email')
    .description('add a contact')
    .addHelpText('after', '\nExample:\n  $ mailctl contacts add pat@acme.test --name "Pat Lee" --can-create contracts support_cases')
    .action(lazy(async () => (await import('./commands/contacts/run-contacts.js')).runContactsAdd as Runner));
  contacts
    .command('list')
    .description('list contacts')
    .action(lazy(async () => (await import('./commands/contacts/run-contacts.js')).runContactsList as Runner));

  const records = program.command('records').summary('records and their additional notes');
  records
    .command('list')
    .option('--table <table>', 'only this table')
    .option('--limit <n>', 'at most this many (newest first)', '100')
    .description('list records')
    .action(lazy(async () => (await import('./commands/records/run-records.js')).runRecordsList as Runner));
  records
    .command('show')
    .argument('<id>', 'record id')
    .description('show a record with its additional notes, its communications and their attachments')
    .action(lazy(async () => (await import('./commands/records/run-records.js')).runRecordsShow as Runner));
  records
    .command('revoke-references')
    .argument('<id>', 'record id')
    .description('revoke every reference sent for a record so far: replies carrying one no longer update it (mail sent afterwards works)')
    .addHelpText('after', '\nA reference also expires after reference_lifetime (default 365d; mailctl config set reference_lifetime 90d).\n\nExample:\n  $ mailctl records revoke-references 42')
    .action(lazy(async () => (await import('./commands/records/run-records.js')).runRecordsRevokeReferences as Runner));
  records
    .command('add')
    .requiredOption('--table <table>', 'table')
    .requiredOption('--title <title>', 'title')
    .option('--created-by <email>', 'who it is created by', 'admin')
    .description('create a record by hand (for tests and demos)')
    .action(lazy(async () => (await import('./commands/records/run-records.js')).runRecordsAdd as Runner));

  return program;
}

export interface MainIO {
  env?: Record<string, string | undefined>;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  stdinIsTTY?: boolean;
  /** Time, for tests that look at the installation days later (doctor, retries). */
  clock?: Clock;
}

/** configGeneration, or undefined when the files cannot be read (the command reports its own problems). */
function generationOf(paths: ReturnType<typeof resolvePaths>): string | undefined {
  try {
    return configGeneration(paths);
  } catch {
    return undefined;
  }
}

async function readAllStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs mailctl with `argv` (without "node mailctl") and returns the exit code. */
export async function main(argv: string[], io: MainIO = {}): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  let exitCode: number = ExitCode.ok;
  let deps: Deps | undefined;
  let globals: GlobalOptions = {};

  const program = buildProgram(async (load, args, name) => {
    globals = program.opts<GlobalOptions>();
    const useColor = globals.color !== false && !('NO_COLOR' in env) && Boolean(stdout.isTTY);
    const out = new Output({ stdout, stderr, json: Boolean(globals.json), color: useColor, columns: Number(env.COLUMNS) || undefined });
    const interactive = globals.input !== false && (io.stdinIsTTY ?? Boolean(process.stdin.isTTY)) && Boolean(stdout.isTTY);
    const prompt = interactive ? await (await import('./ui/prompt.js')).createInquirerPrompter() : nonInteractivePrompter;
    deps = createDeps({
      paths: resolvePaths(env),
      clock: io.clock ?? systemClock,
      out,
      prompt,
      settings: { secretBackend: env.MAILCTL_SECRET_BACKEND, masterKey: env.MAILCTL_MASTER_KEY, rotateStepDelayMs: Number(env.MAILCTL_ROTATE_STEP_DELAY_MS ?? 0) || undefined },
      readStdin: readAllStdin,
    });
    const runner = await load();
    // What a running daemon would run on before and after: a command that changed the config
    // or a secret says whether the daemon has picked the change up (the daemon itself does not).
    const paths = deps.paths;
    const before = name === 'daemon' ? undefined : generationOf(paths);
    const code = await runner(deps, ...args);
    exitCode = typeof code === 'number' ? code : ExitCode.ok;
    const after = before === undefined ? undefined : generationOf(paths);
    if (after !== undefined && after !== before) {
      const { announceChange } = await import('./daemon/announce-change.js');
      const pickup = await announceChange(deps, after).catch(() => undefined);
      if (pickup) deps.out.amendData({ daemon: pickup });
    }
  }, { out: (text) => stdout.write(text), err: (text) => stderr.write(text) });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version "fail" with exit code 0; everything else commander rejects is usage.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    deps?.out.flushData();
    const out = deps?.out ?? new Output({ stdout, stderr, json: Boolean(globals.json), color: false });
    exitCode = renderError(out, error, Boolean(globals.debug), deps?.paths);
  } finally {
    deps?.out.flushData();
    deps?.close();
  }
  return exitCode;
}
