// Preloaded with `node --import` into a measured process: on exit it writes the kernel's
// high-water mark of its resident set (VmHWM) and its CPU time to $BENCH_PEAK_RSS_FILE, as
// JSON: in all, of the main thread, and of each thread (the store's writer thread, V8's
// helpers, libuv's pool). Exact, unlike sampling, and it costs the measured process nothing
// until it exits. CPU time tells apart "slow" from "waiting" on a machine that other work shares.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) {
  process.on('exit', () => {
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    const cpu = process.cpuUsage();
    // utime and stime of the main thread alone (clock ticks): JavaScript runs there, the thread pool and GC helpers do not.
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const mainThreadCpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
    const threads = {};
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        threads[`${tid === String(process.pid) ? 'main' : name}:${tid}`] = { user: Number(f[11]) / 100, sys: Number(f[12]) / 100 };
      } catch { /* the thread ended */ }
    }
    writeFileSync(file, JSON.stringify({ threads, peakRss: Number(kb) * 1024, cpuSeconds: (cpu.user + cpu.system) / 1e6, mainThreadCpuSeconds }));
  });
}
