// An SMTP sink in its own process (the benchmark times children synchronously, which
// would freeze a server in the same process): prints its port, accepts and drops mail.
import { SMTPServer } from 'smtp-server';

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS', 'AUTH'],
  logger: false,
  // No reverse DNS of the client before the greeting: it would time both sides, not mailctl.
  disableReverseLookup: true,
  size: 50 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => { received++; callback(null, `Ok ${received}`); });
  },
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.server.address().port}\n`));
process.on('SIGTERM', () => { server.close(() => process.exit(0)); });
