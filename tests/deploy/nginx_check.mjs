// The validator behind Debian's nginx with the WebSocket proxy configuration the README gives:
// every bettensor-bench mode (WebSocket predictions, broadcasts, heartbeats, HTTP) and a real
// bettensor-miner run through the proxy, and X-Forwarded-For is believed only from the proxy
// named by --trusted_proxy. nginx connects from 127.0.0.2 so the test's own direct requests
// (from 127.0.0.1) are not the proxy's.
//
// usage: node nginx_check.mjs <bettensor-validator> <bettensor-miner> <bettensor-keygen>
//                             <bettensor-bench>
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harness } from '../support/harness.mjs';

const [validatorBin, minerBin, keygenBin, benchBin] = process.argv.slice(2);
if (!benchBin) {
  console.error('usage: node nginx_check.mjs <validator> <miner> <keygen> <bench>');
  process.exit(2);
}
const work = mkdtempSync(join(tmpdir(), 'bettensor-nginx-'));
let nginxDir = '';
let validator = null;
const h = harness({
  name: 'nginx',
  totalMs: 150_000,
  onFail: () => {
    console.error(`nginx error log:\n${readFileSync(join(nginxDir, 'error.log'), 'utf8')}`);
    // What the validator said about connections it refused or closed.
    const notable = (validator?.log ?? '').split('\n').filter((l) => /\b(warn|warning|error)\b/i.test(l));
    console.error(`validator warnings and errors (last 60 of ${notable.length}):\n` +
      notable.slice(-60).join('\n'));
  },
});
const { run, runAsync, freePort, untilTrue, canConnect, http } = h;
const fail = h.fail;

// 1. Keys, metagraph, games and token from bench --prepare, plus a miner wallet in the metagraph.
const benchDir = join(work, 'bench');
run(benchBin, ['--prepare', `--workdir=${benchDir}`, '--miners=100', '--heartbeat_interval=1']);
const minerSs58 = run(keygenBin, [`--wallet.path=${join(work, 'wallets')}`, '--wallet.name=miner'])
  .trim()
  .split('\n')
  .pop();
const metagraph = JSON.parse(readFileSync(join(benchDir, 'metagraph.json'), 'utf8'));
const validatorSs58 = metagraph.neurons[0].hotkey;
metagraph.neurons.push({
  uid: 101, hotkey: minerSs58, validator_permit: false, stake: 1, axon: { ip: '0.0.0.0', port: 0 },
});
writeFileSync(join(benchDir, 'metagraph.json'), JSON.stringify(metagraph));

// 2. The validator on a free port, trusting the proxy's address.
const args = readFileSync(join(benchDir, 'validator.args'), 'utf8').trim().split('\n');
validator = h.start(validatorBin, [...args, '--websocket.address=127.0.0.1',
  '--websocket.port=0', '--trusted_proxy=127.0.0.2', '--log.level=info'], 'validator');
validator.stopSignal = 'SIGTERM';
const validatorPort = await h.listeningPort(validator, '127.0.0.1');

// 3. nginx in front of it.
const proxyPort = await freePort();
nginxDir = join(work, 'nginx');
mkdirSync(nginxDir);
writeFileSync(join(nginxDir, 'nginx.conf'), `
worker_processes 1;
daemon off;
pid ${nginxDir}/nginx.pid;
error_log ${nginxDir}/error.log;
events { worker_connections 4096; }
http {
  access_log ${nginxDir}/access.log;
  client_body_buffer_size 1m;  # bodies stay in memory: the workers may not write to this dir
  client_body_temp_path ${nginxDir}/body;
  proxy_temp_path ${nginxDir}/proxy;
  fastcgi_temp_path ${nginxDir}/fastcgi;
  uwsgi_temp_path ${nginxDir}/uwsgi;
  scgi_temp_path ${nginxDir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream bettensor_validator { server 127.0.0.1:${validatorPort}; }
  # nginx ends a keep-alive connection after keepalive_requests (1000 by default). Ten makes
  # every HTTP client here meet that on every run, however fast the machine.
  keepalive_requests 10;
  server {
    listen 127.0.0.1:${proxyPort};
    location / {
      proxy_pass http://bettensor_validator;
      proxy_bind 127.0.0.2;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
`);
// SIGTERM: nginx's master then ends its workers too.
const nginx = spawn('nginx', ['-p', nginxDir, '-c', join(nginxDir, 'nginx.conf')],
  { stdio: 'ignore' });
nginx.stopSignal = 'SIGTERM';
h.children.push(nginx);
await untilTrue('nginx to listen', () => canConnect(proxyPort));

// 4. Every bench mode through the proxy: predictions over WebSocket and HTTP, broadcasts to 50
// miners, 100 idle miners answering heartbeats; every confirmation's signature verified.
const benchOut = await runAsync(benchBin, [`--url=ws://127.0.0.1:${proxyPort}`, `--workdir=${benchDir}`,
  '--quick', '--heartbeat_interval=1']);
if (!/confirmations verified \(sample\)\s+(\d+)\/\1\b/.test(benchOut)) fail(`bench output:\n${benchOut}`);
// The HTTP mode's keep-alive connections were ended by nginx and reopened, nothing failed.
const reopened = Number(/connections reopened\s+(\d+)/.exec(benchOut)?.[1] ?? 0);
if (reopened === 0) fail(`the bench's HTTP mode never met a closed keep-alive connection:\n${benchOut}`);

// 5. The real miner through the proxy: its built-in strategy predicts the bench's game and the
// prediction is confirmed.
const apiPort = await freePort();
const miner = spawn(minerBin, [`--wallet.path=${join(work, 'wallets')}`, '--wallet.name=miner',
  `--validator=ws://127.0.0.1:${proxyPort}@${validatorSs58}`, `--db.path=${join(work, 'miner.db')}`,
  `--api.port=${apiPort}`, '--log_level=warn'], { stdio: 'inherit' });
miner.stopSignal = 'SIGTERM';
h.children.push(miner);
let status = {};
await untilTrue('the miner to have its predictions confirmed through nginx', async () => {
  try {
    status = JSON.parse((await http(apiPort, 'GET', '/status')).body);
  } catch {
    return false;
  }
  return status.predictions > 0 && status.pending === 0 && status.validators?.[0]?.connected;
});

// 6. X-Forwarded-For: the validator names the client the proxy saw (127.0.0.3 here), not what
// the client wrote into the header, and ignores the header from anyone but the proxy.
const games = readFileSync(join(benchDir, 'games.json'), 'utf8');
const forged = { authorization: 'Bearer wrong', 'content-type': 'application/json',
  'x-forwarded-for': '198.51.100.7' };
const viaProxy = await http(proxyPort, 'POST', '/games', games, forged, '127.0.0.3');
if (viaProxy.status !== 401) fail(`a bad token via the proxy answered ${viaProxy.status}`);
await untilTrue('the refusal naming the client the proxy saw',
  () => validator.log.includes('Refused POST /games from 127.0.0.3: bad admin token'));
const direct = await http(validatorPort, 'POST', '/games', games, forged, '127.0.0.4');
if (direct.status !== 401) fail(`a bad token sent directly answered ${direct.status}`);
await untilTrue('the refusal naming the direct client, not its header',
  () => validator.log.includes('Refused POST /games from 127.0.0.4: bad admin token'));
if (validator.log.includes('198.51.100.7')) fail('a forged X-Forwarded-For entry was believed');

for (const c of [miner, nginx]) c.kill('SIGTERM');
validator.kill('SIGTERM');
const code = await h.exited(validator);
if (code !== 0) fail(`the validator exited ${code}`);
rmSync(work, { recursive: true, force: true });
console.log(`nginx: every bench mode and a real miner (${status.predictions} predictions confirmed) ` +
  `through the proxy, ${reopened} keep-alive connections ended by nginx and reopened; ` +
  'X-Forwarded-For believed only from --trusted_proxy');
process.exit(0);
