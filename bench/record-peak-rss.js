// Preloaded with `node --import` into a measured process: on exit it writes the kernel's
// high-water mark of its resident set (VmHWM) and its CPU time to $BENCH_PEAK_RSS_FILE, as
// JSON. Exact, unlike sampling, and it costs the measured process nothing until it exits.
// CPU time tells apart "slow" from "waiting" on a machine that other work shares.
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const cpu = process.cpuUsage();
    writeFileSync(file, JSON.stringify({ peakRss: Number(kb) * 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
  });
}
