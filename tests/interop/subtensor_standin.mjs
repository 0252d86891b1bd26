// A stand-in for a subtensor node on loopback: JSON-RPC 2.0 over WebSocket, answering the calls
// the metagraph sync makes (chain_getHeader, state_call of NeuronInfoRuntimeApi_get_neurons_lite)
// with SCALE bytes encoded by @polkadot/types from subtensor's type definitions
// (pallets/subtensor/src/rpc_info/neuron_info.rs, AxonInfo and PrometheusInfo in lib.rs).
//
// Prints "listening <port>" once ready. A test steers it over HTTP on the same port:
//   POST /control {"netuid":30,"block":N,"neurons":[...],"mode":"ok"}  (any subset of the keys)
//   GET /calls -> {"state_call":N,"chain_getHeader":M}  (answered calls, by method)
// A neuron: {"uid","hotkey" (SS58),"validator_permit","stake" (rao),"ip","port","ip_type"}.
// Modes: ok; truncated (the neuron bytes cut in half); rpc_error (an error object, as a node
// whose runtime call failed); silent (no answer at all); garbage (a result that is not hex).
import http from 'node:http';
import { TypeRegistry } from '@polkadot/types';
import { hexToU8a } from '@polkadot/util';
import { encodeAddress } from '@polkadot/util-crypto';
import { WebSocketServer } from 'ws';

const registry = new TypeRegistry();
registry.register({
  AxonInfo: {
    block: 'u64', version: 'u32', ip: 'u128', port: 'u16', ip_type: 'u8', protocol: 'u8',
    placeholder1: 'u8', placeholder2: 'u8',
  },
  PrometheusInfo: { block: 'u64', version: 'u32', ip: 'u128', port: 'u16', ip_type: 'u8' },
  NeuronInfoLite: {
    hotkey: 'AccountId32', coldkey: 'AccountId32', uid: 'Compact<u16>', netuid: 'Compact<u16>',
    active: 'bool', axon_info: 'AxonInfo', prometheus_info: 'PrometheusInfo',
    stake: 'Vec<(AccountId32, Compact<u64>)>', rank: 'Compact<u16>', emission: 'Compact<u64>',
    incentive: 'Compact<u16>', consensus: 'Compact<u16>', trust: 'Compact<u16>',
    validator_trust: 'Compact<u16>', dividends: 'Compact<u16>', last_update: 'Compact<u64>',
    validator_permit: 'bool', pruning_score: 'Compact<u16>',
  },
});

const coldkey = encodeAddress(new Uint8Array(32).fill(7), 42);
const state = { netuid: 30, block: 1000, neurons: [], mode: 'ok' };
const calls = { state_call: 0, chain_getHeader: 0 };

function ipNumber(text, type) {
  if (!text) return 0n;
  if (type === 6) throw new Error('IPv6 axons are not needed by the tests');
  return text.split('.').reduce((n, part) => (n << 8n) | BigInt(Number(part)), 0n);
}

function neuronsHex() {
  const list = state.neurons.map((n) => ({
    hotkey: n.hotkey,
    coldkey,
    uid: n.uid,
    netuid: n.netuid ?? state.netuid,
    active: true,
    axon_info: {
      block: state.block, version: 1, ip: ipNumber(n.ip, n.ip_type ?? 4), port: n.port ?? 0,
      ip_type: n.ip_type ?? 4, protocol: 4, placeholder1: 0, placeholder2: 0,
    },
    prometheus_info: { block: 0, version: 0, ip: 0, port: 0, ip_type: 0 },
    stake: n.stake ? [[coldkey, BigInt(n.stake)]] : [],
    rank: 0, emission: 0, incentive: 0, consensus: 0, trust: 0, validator_trust: 0,
    dividends: 0, last_update: state.block, validator_permit: !!n.validator_permit,
    pruning_score: 0,
  }));
  return registry.createType('Vec<NeuronInfoLite>', list).toHex();
}

function answer(request) {
  const { id, method, params } = request;
  if (method === 'chain_getHeader') {
    return { jsonrpc: '2.0', id, result: { number: '0x' + state.block.toString(16), parentHash: '0x00' } };
  }
  if (method !== 'state_call') {
    return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
  }
  if (params?.[0] !== 'NeuronInfoRuntimeApi_get_neurons_lite') {
    return { jsonrpc: '2.0', id, error: { code: -32000, message: `unexpected runtime call ${params?.[0]}` } };
  }
  const netuid = registry.createType('u16', hexToU8a(params[1])).toNumber();  // SCALE: LE
  if (state.mode === 'rpc_error') {
    return { jsonrpc: '2.0', id, error: { code: 1002, message: 'Verification Error: Runtime error: Execution failed' } };
  }
  if (state.mode === 'garbage') return { jsonrpc: '2.0', id, result: 'not hex at all' };
  let hex = netuid === state.netuid ? neuronsHex() : '0x00';  // another subnet: no neurons
  if (state.mode === 'truncated') hex = hex.slice(0, 2 + Math.floor((hex.length - 2) / 4) * 2);
  return { jsonrpc: '2.0', id, result: hex };
}

const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/control') {
      Object.assign(state, JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
    } else if (req.method === 'GET' && req.url === '/calls') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(calls));
    } else {
      res.writeHead(404).end();
    }
  });
});

const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => {
  ws.on('message', (data) => {
    let request;
    try {
      request = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }));
      return;
    }
    if (state.mode === 'silent') return;
    const reply = answer(request);
    if (request.method in calls) ++calls[request.method];
    ws.send(JSON.stringify(reply));
  });
});

server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
