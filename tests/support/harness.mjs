// Helpers shared by the end-to-end scripts that drive the real programs (tests/deploy,
// tests/faults, tests/attacks): child processes that are ended on failure, bounded polling
// instead of sleeps, free ports and small HTTP requests.
import { spawn, spawnSync } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { request } from 'node:http';

export function harness({ name, totalMs, onFail = () => {} }) {
  const deadline = Date.now() + totalMs;
  const children = [];
  const cleanups = [];
  const h = {
    children,
    // Runs at exit, failure or not (namespaces, mounts); each step may fail on its own.
    atExit: (fn) => cleanups.unshift(fn),
    cleanup: () => {
      for (const c of children)
        if (c.exitCode === null && c.signalCode === null) c.kill(c.stopSignal ?? 'SIGKILL');
      for (const fn of cleanups) {
        try {
          fn();
        } catch {}
      }
      cleanups.length = 0;
    },
    fail: (msg) => {
      console.error(`FAIL (${name}): ${msg}`);
      try {
        onFail();
      } catch {}
      h.cleanup();
      process.exit(1);
    },
    // A short command that must succeed; its output.
    run: (bin, args, opts = {}) => {
      const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 120_000, ...opts });
      if (r.status !== 0) h.fail(`${bin} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    },
    // A program kept running; its combined output accumulates in `.log`.
    start: (bin, args, label = bin) => {
      const child = spawn(bin, args);
      child.log = '';
      child.label = label;
      child.stdout.on('data', (d) => (child.log += d));
      child.stderr.on('data', (d) => (child.log += d));
      children.push(child);
      return child;
    },
    // Resolves with the exit code (or signal name) of a started program.
    exited: (child) =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve(child.exitCode ?? child.signalCode)
        : new Promise((r) => child.once('exit', (code, sig) => r(code ?? sig))),
    // A long command run without blocking this process (logs of others keep draining).
    runAsync: async (bin, args) => {
      const child = h.start(bin, args);
      const code = await h.exited(child);
      if (code !== 0) h.fail(`${bin} ${args.join(' ')} exited ${code}:\n${child.log}`);
      return child.log;
    },
    freePort: () =>
      new Promise((resolve) => {
        const s = createServer();
        s.listen(0, '127.0.0.1', () => {
          const { port } = s.address();
          s.close(() => resolve(port));
        });
      }),
    // Polls `check` every 50 ms until it is true; fails after `ms` or the overall deadline.
    untilTrue: async (what, check, ms = 30_000) => {
      const until = Math.min(deadline, Date.now() + ms);
      while (!(await check())) {
        if (Date.now() > until) h.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    canConnect: (port, host = '127.0.0.1') =>
      new Promise((resolve) => {
        const s = connect(port, host);
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      }),
    http: (port, method, path, body, headers = {}, localAddress = '127.0.0.1', host = '127.0.0.1') =>
      new Promise((resolve, reject) => {
        const req = request({ host, port, method, path, headers, localAddress }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode, body: text }));
        });
        req.on('error', reject);
        req.end(body);
      }),
    // The port a program logged as "listening on ADDRESS:PORT".
    listeningPort: async (child, address) => {
      let port = 0;
      const re = new RegExp(`listening on ${address.replaceAll('.', '\\.')}:(\\d+)`);
      await h.untilTrue(`${child.label} to listen`, () => {
        const m = child.log.match(re);
        if (m) port = Number(m[1]);
        return port !== 0 || child.exitCode !== null;
      });
      if (port === 0) h.fail(`${child.label} exited ${child.exitCode}:\n${child.log}`);
      return port;
    },
  };
  process.on('exit', () => h.cleanup());
  return h;
}
