// The page's upload module (src/serve/page/upload.js) under node's own
// test runner: node --test tests/js/. A small in-memory server here speaks
// the resumable upload draft as ferry serve does (creation, HEAD, PATCH at
// Upload-Offset, Content-Digest checked, DELETE); no network, no package.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createHash, randomBytes } from 'node:crypto';

const require = createRequire(import.meta.url);
const up = require('../../src/serve/page/upload.js');

class MemStorage {
  constructor() { this.m = new Map(); }
  getItem(k) { return this.m.has(k) ? this.m.get(k) : null; }
  setItem(k, v) { this.m.set(k, String(v)); }
}

function answer(status, fields = {}) {
  const h = {};
  for (const [k, v] of Object.entries(fields)) h[k.toLowerCase()] = String(v);
  return { status, header: (n) => (n.toLowerCase() in h ? h[n.toLowerCase()] : null) };
}

// The fake server. hooks: cut(req) -> bytes to keep before the connection
// drops (or -1), corrupt(req) -> true to flip a byte of this body on the way.
class FakeServer {
  constructor() {
    this.uploads = new Map();
    this.files = new Map();
    this.log = [];
    this.next = 1;
    this.down = false;
    this.hooks = {};
  }
  async handle(method, url, headers, body) {
    const bytes = body ? new Uint8Array(await body.arrayBuffer()) : new Uint8Array(0);
    this.log.push({ method, url, headers, size: bytes.length });
    if (this.down) return { res: answer(0), kept: 0 };
    if (method === 'POST') {
      const loc = `${url}?upload=${String(this.next++).padStart(32, '0')}`;
      const u = { target: url, length: Number(headers['Upload-Length']), data: [], size: 0 };
      if (headers['Upload-Complete'] === '?1') {
        this.files.set(url, Buffer.alloc(0));
        return { res: answer(201, { 'Upload-Complete': '?1', 'Upload-Offset': 0 }), kept: 0 };
      }
      this.uploads.set(loc, u);
      return { res: answer(201, { Location: loc, 'Upload-Complete': '?0', 'Upload-Offset': 0 }), kept: 0 };
    }
    const u = this.uploads.get(url);
    if (!u) return { res: answer(404), kept: 0 };
    if (method === 'HEAD') return { res: answer(204, { 'Upload-Complete': '?0', 'Upload-Offset': u.size }), kept: 0 };
    if (method === 'DELETE') {
      this.uploads.delete(url);
      return { res: answer(204), kept: 0 };
    }
    assert.equal(method, 'PATCH');
    assert.equal(headers['Content-Type'], 'application/partial-upload');
    const off = Number(headers['Upload-Offset']);
    if (off !== u.size) return { res: answer(409, { 'Upload-Offset': u.size }), kept: 0 };
    let got = bytes;
    if (this.hooks.corrupt && this.hooks.corrupt(this.log.at(-1))) {
      got = Buffer.from(bytes);
      got[Math.floor(got.length / 2)] ^= 0x20;
    }
    const cut = this.hooks.cut ? this.hooks.cut(this.log.at(-1)) : -1;
    if (cut >= 0) { // a cut body: what arrived stays (no digest to check)
      u.data.push(Buffer.from(got.subarray(0, cut)));
      u.size += cut;
      return { res: answer(0), kept: cut };
    }
    const want = headers['Content-Digest'];
    if (want) {
      const md = 'sha-256=:' + createHash('sha256').update(got).digest('base64') + ':';
      if (md !== want) return { res: answer(400, { 'Upload-Complete': '?0', 'Upload-Offset': u.size }), kept: 0 };
    }
    u.data.push(Buffer.from(got));
    u.size += got.length;
    if (headers['Upload-Complete'] === '?1') {
      assert.equal(u.size, u.length);
      this.files.set(u.target, Buffer.concat(u.data));
      this.uploads.delete(url);
      return { res: answer(204, { 'Upload-Complete': '?1', 'Upload-Offset': u.size }), kept: got.length };
    }
    return { res: answer(204, { 'Upload-Complete': '?0', 'Upload-Offset': u.size }), kept: got.length };
  }
}

function makeEnv(server, over = {}) {
  const env = {
    store: new up.Store(over.storage || new MemStorage()),
    hasher: 'hasher' in over ? over.hasher : up.webHasher(globalThis.crypto.subtle),
    sleeps: [],
    sleep(ms) { env.sleeps.push(ms); if (over.onsleep) over.onsleep(env.sleeps.length); return new Promise((r) => setImmediate(r)); },
    online: over.online || (() => true),
    now: () => Date.now(),
    resolve: (loc) => loc,
    request(method, url, headers, body, onprogress) {
      let aborted = false;
      const promise = server.handle(method, url, headers, body).then(({ res, kept }) => {
        if (onprogress && body) onprogress(res.status === 0 ? kept : body.size);
        return aborted ? answer(0) : res;
      });
      return { promise, abort() { aborted = true; } };
    },
  };
  return env;
}

function file(bytes, name = 'a.bin', lastModified = 1000) {
  return new File([bytes], name, { lastModified });
}

async function run(u) {
  await u.start();
  return u;
}

test('a file goes as a creation and parts of at most partSize, each with its digest', async () => {
  const srv = new FakeServer();
  const data = randomBytes(100_000);
  const u = new up.Upload({ target: '/d/a.bin', file: file(data), partSize: 30_000 }, makeEnv(srv));
  await run(u);
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/d/a.bin'), data);
  const kinds = srv.log.map((r) => r.method);
  assert.deepEqual(kinds, ['POST', 'PATCH', 'PATCH', 'PATCH', 'PATCH']);
  assert.equal(srv.log[0].headers['Upload-Complete'], '?0');
  assert.equal(srv.log[0].headers['Upload-Length'], '100000');
  const patches = srv.log.filter((r) => r.method === 'PATCH');
  assert.deepEqual(patches.map((r) => r.size), [30_000, 30_000, 30_000, 10_000]);
  assert.deepEqual(patches.map((r) => r.headers['Upload-Offset']), ['0', '30000', '60000', '90000']);
  assert.deepEqual(patches.map((r) => r.headers['Upload-Complete']), ['?0', '?0', '?0', '?1']);
  for (const r of patches) assert.match(r.headers['Content-Digest'], /^sha-256=:[A-Za-z0-9+/]{43}=:$/);
  assert.equal(u.sent, data.length);
  assert.equal(u.env.store.list().length, 0, 'a finished upload is forgotten');
});

test('an empty file is one completing creation', async () => {
  const srv = new FakeServer();
  const u = await run(new up.Upload({ target: '/e', file: file(new Uint8Array(0)), partSize: 10 }, makeEnv(srv)));
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.log.map((r) => [r.method, r.headers['Upload-Complete']]), [['POST', '?1']]);
});

test('without WebCrypto the parts go without Content-Digest', async () => {
  const srv = new FakeServer();
  const data = randomBytes(5000);
  const u = await run(new up.Upload({ target: '/n', file: file(data), partSize: 2000 }, makeEnv(srv, { hasher: null })));
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/n'), data);
  assert.ok(srv.log.every((r) => !('Content-Digest' in r.headers)));
  assert.equal(up.webHasher(undefined), null);
});

test('two parts ahead are hashed at once while one is sent; each part is hashed once', async () => {
  const srv = new FakeServer();
  const data = randomBytes(70_000);
  const real = up.webHasher(globalThis.crypto.subtle);
  const asked = [];
  let running = 0, most = 0;
  // A hasher that holds every part but the first until the first part
  // has been sent: so when it goes, the parts asked ahead are all still
  // being hashed, however the machine schedules timers and digests.
  let release;
  const firstSent = new Promise((r) => { release = r; });
  const hasher = (blob) => {
    const first = asked.length === 0;
    asked.push(blob.size);
    running++;
    most = Math.max(most, running);
    return (first ? Promise.resolve() : firstSent).then(() => real(blob)).finally(() => { running--; });
  };
  const env = makeEnv(srv, { hasher });
  const sent = [];
  const request = env.request;
  env.request = (method, url, headers, body, onprogress) => {
    if (method === 'PATCH') {
      sent.push([headers['Upload-Offset'], asked.length, running]);
      release();
    }
    return request(method, url, headers, body, onprogress);
  };
  const u = await run(new up.Upload({ target: '/h', file: file(data), partSize: 10_000 }, env));
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/h'), data);
  assert.equal(up.AHEAD, 2);
  assert.equal(asked.length, 7, 'each part hashed once');
  // When part 0 goes, parts 1 and 2 are being hashed, both at once.
  assert.deepEqual(sent[0], ['0', 3, 2]);
  assert.equal(most, 3, 'never more than the part sent next and AHEAD more in memory');
  assert.ok(srv.log.filter((r) => r.method === 'PATCH').every((r) => /^sha-256=:/.test(r.headers['Content-Digest'])));
});

test('env.ahead sets how many parts are hashed ahead (one: the page before, for the bench)', async () => {
  for (const [ahead, first, most] of [[1, 2, 2], [0, 1, 1], [99, 3, 3]]) {
    const srv = new FakeServer();
    const data = randomBytes(50_000);
    const real = up.webHasher(globalThis.crypto.subtle);
    let asked = 0, running = 0, top = 0;
    const hasher = (blob) => {
      asked++;
      running++;
      top = Math.max(top, running);
      return real(blob).finally(() => { running--; });
    };
    const env = makeEnv(srv, { hasher });
    env.ahead = ahead; // 99 is out of range: AHEAD
    const at = [];
    const request = env.request;
    env.request = (method, url, headers, body, onprogress) => {
      if (method === 'PATCH') at.push(asked);
      return request(method, url, headers, body, onprogress);
    };
    const u = await run(new up.Upload({ target: '/k', file: file(data), partSize: 10_000 }, env));
    assert.equal(u.status, 'done');
    assert.deepEqual(srv.files.get('/k'), data);
    assert.equal(asked, 5, `ahead ${ahead}: each part hashed once`);
    assert.equal(at[0], first, `ahead ${ahead}: parts asked when the first goes`);
    assert.equal(top, most, `ahead ${ahead}: hashes at once`);
  }
});

test('a cut part: back-off, HEAD for the offset, the rest from there', async () => {
  const srv = new FakeServer();
  const data = randomBytes(90_000);
  let cuts = 0;
  srv.hooks.cut = (r) => (r.method === 'PATCH' && r.headers['Upload-Offset'] === '30000' && cuts++ === 0 ? 12_345 : -1);
  const u = await run(new up.Upload({ target: '/c', file: file(data), partSize: 30_000 }, makeEnv(srv)));
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/c'), data);
  const after = srv.log.slice(srv.log.findIndex((r) => r.headers['Upload-Offset'] === '30000') + 1);
  assert.equal(after[0].method, 'HEAD');
  assert.equal(after[1].headers['Upload-Offset'], '42345');
  assert.equal(u.sent, data.length, 'nothing sent twice: the server kept what came');
});

test('a server that stays down is retried with back-off that doubles up to its cap', async () => {
  const srv = new FakeServer();
  const data = randomBytes(50_000);
  const env = makeEnv(srv, { onsleep: (n) => { if (n === 8) srv.down = false; } });
  srv.hooks.cut = (r) => { if (r.method === 'PATCH' && r.headers['Upload-Offset'] === '20000' && !srv.wasDown) { srv.wasDown = true; srv.down = true; } return -1; };
  const u = new up.Upload({ target: '/b', file: file(data), partSize: 20_000 }, env);
  const msgs = [];
  u.onchange = (x) => msgs.push(x.message);
  await run(u);
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/b'), data);
  assert.deepEqual(env.sleeps, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.ok(msgs.includes('resuming at 80%'), msgs.join('|'));
  assert.ok(msgs.includes('connection lost, retrying in 4 s'), msgs.join('|'));
});

test('offline: "waiting for the network"', async () => {
  const srv = new FakeServer();
  let online = false, n = 0;
  srv.hooks.cut = (r) => (r.method === 'PATCH' && n++ === 0 ? 0 : -1);
  const msgs = [];
  const env = makeEnv(srv, { online: () => online, onsleep: () => { online = true; } });
  const u = new up.Upload({ target: '/o', file: file(randomBytes(1000)), partSize: 600 }, env, (x) => msgs.push(x.message));
  await run(u);
  assert.equal(u.status, 'done');
  assert.ok(msgs.includes('waiting for the network'), msgs.join('|'));
});

test('a part refused for its digest is sent again; the file is right', async () => {
  const srv = new FakeServer();
  const data = randomBytes(60_000);
  let flipped = 0;
  srv.hooks.corrupt = (r) => r.method === 'PATCH' && r.headers['Upload-Offset'] === '20000' && flipped++ === 0;
  const u = await run(new up.Upload({ target: '/x', file: file(data), partSize: 20_000 }, makeEnv(srv)));
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/x'), data);
  const at20k = srv.log.filter((r) => r.method === 'PATCH' && r.headers['Upload-Offset'] === '20000');
  assert.equal(at20k.length, 2, 'the refused part went twice');
});

test('a server that refuses every part: the upload fails after a few', async () => {
  const srv = new FakeServer();
  srv.hooks.corrupt = (r) => r.method === 'PATCH';
  const u = await run(new up.Upload({ target: '/y', file: file(randomBytes(3000)), partSize: 1000 }, makeEnv(srv)));
  assert.equal(u.status, 'failed');
  assert.match(u.message, /refused 6 parts/);
});

test('after a reload the same file resumes from the server offset; another lastModified starts anew', async () => {
  const srv = new FakeServer();
  const storage = new MemStorage();
  const data = randomBytes(80_000);
  // First page: two parts go, then the page goes away (paused for good).
  const env1 = makeEnv(srv, { storage });
  const u1 = new up.Upload({ target: '/r.bin', file: file(data, 'r.bin', 5000), partSize: 20_000 }, env1);
  u1.onchange = (x) => { if (x.offset >= 40_000 && x.status !== 'paused') x.pause(); };
  await u1.start();
  assert.equal(u1.status, 'paused');
  const rec = env1.store.list();
  assert.equal(rec.length, 1);
  assert.equal(rec[0].target, '/r.bin');
  assert.equal(rec[0].size, 80_000);
  assert.equal(rec[0].lastModified, 5000);

  // A new page, the same file: HEAD, then only the rest.
  srv.log = [];
  const u2 = await run(new up.Upload({ target: '/r.bin', file: file(data, 'r.bin', 5000), partSize: 20_000 }, makeEnv(srv, { storage })));
  assert.equal(u2.status, 'done');
  assert.equal(srv.log[0].method, 'HEAD');
  assert.equal(srv.log[0].url, rec[0].location);
  assert.ok(!srv.log.some((r) => r.method === 'POST'));
  assert.equal(u2.sent, 40_000);
  assert.deepEqual(srv.files.get('/r.bin'), data);
});

test('a file with the same name and size but another lastModified is never resumed', async () => {
  const srv = new FakeServer();
  const storage = new MemStorage();
  const a = randomBytes(50_000), b = randomBytes(50_000);
  const env1 = makeEnv(srv, { storage });
  const u1 = new up.Upload({ target: '/s.bin', file: file(a, 's.bin', 1), partSize: 10_000 }, env1);
  u1.onchange = (x) => { if (x.offset >= 20_000 && x.status !== 'paused') x.pause(); };
  await u1.start();
  const old = env1.store.list()[0].location;
  srv.log = [];
  const u2 = await run(new up.Upload({ target: '/s.bin', file: file(b, 's.bin', 2), partSize: 10_000 }, makeEnv(srv, { storage })));
  assert.equal(u2.status, 'done');
  assert.equal(srv.log[0].method, 'POST');
  assert.ok(!srv.log.some((r) => r.method === 'HEAD' || (r.method === 'PATCH' && r.url === old)));
  assert.ok(srv.log.some((r) => r.method === 'DELETE' && r.url === old), 'the old upload is deleted');
  assert.deepEqual(srv.files.get('/s.bin'), b);
  assert.equal(new up.Store(storage).list().length, 0);
});

test('the store never matches another size, target or lastModified', () => {
  const st = new up.Store(new MemStorage());
  st.save({ target: '/t', size: 10, lastModified: 7, location: '/t?upload=1', offset: 3, time: 1 });
  assert.equal(st.find('/t', 10, 7).offset, 3);
  assert.equal(st.find('/t', 11, 7), null);
  assert.equal(st.find('/t', 10, 8), null);
  assert.equal(st.find('/u', 10, 7), null);
  assert.equal(st.others('/t', 10, 8).length, 1);
  const broken = new MemStorage();
  broken.setItem(up.STORE_KEY, '{not json');
  assert.deepEqual(new up.Store(broken).list(), []);
  assert.equal(new up.Store(null).find('/t', 10, 7), null);
});

test('an upload gone from the server (HEAD 404) fails and is forgotten', async () => {
  const srv = new FakeServer();
  const storage = new MemStorage();
  new up.Store(storage).save({ target: '/g', size: 10, lastModified: 1000, location: '/g?upload=9', offset: 5, time: 1 });
  const u = await run(new up.Upload({ target: '/g', file: file(randomBytes(10)), partSize: 4 }, makeEnv(srv, { storage })));
  assert.equal(u.status, 'failed');
  assert.match(u.message, /no longer on the server/);
  assert.equal(new up.Store(storage).list().length, 0);
});

test('cancel sends DELETE; pause and resume go on from the offset', async () => {
  const srv = new FakeServer();
  const data = randomBytes(40_000);
  const env = makeEnv(srv);
  const u = new up.Upload({ target: '/p', file: file(data), partSize: 10_000 }, env);
  u.onchange = (x) => { if (x.offset >= 10_000 && x.status === 'sending') x.pause(); };
  await u.start();
  assert.equal(u.status, 'paused');
  u.onchange = () => {};
  await u.start();
  assert.equal(u.status, 'done');
  assert.deepEqual(srv.files.get('/p'), data);

  const v = new up.Upload({ target: '/q', file: file(data), partSize: 10_000 }, env);
  v.onchange = (x) => { if (x.offset >= 10_000 && x.status === 'sending') x.cancel(); };
  await v.start();
  await new Promise((r) => setImmediate(r));
  assert.equal(v.status, 'cancelled');
  assert.ok(srv.log.some((r) => r.method === 'DELETE' && r.url === v.location));
  assert.equal(srv.uploads.size, 0);
  assert.equal(env.store.list().length, 0);
});

test('the queue runs at most max at once and reports each as it ends', async () => {
  const srv = new FakeServer();
  const env = makeEnv(srv);
  let running = 0, most = 0;
  const request = env.request;
  env.request = (...a) => {
    running++;
    most = Math.max(most, running);
    const r = request(...a);
    return { promise: r.promise.then((x) => { running--; return x; }), abort: r.abort };
  };
  const ended = [];
  const all = new Promise((resolve) => {
    const q = new up.Queue(2, (u) => { ended.push(u.target); if (ended.length === 5) resolve(); });
    for (let i = 0; i < 5; i++) q.add(new up.Upload({ target: '/f' + i, file: file(randomBytes(3000)), partSize: 1000 }, env));
  });
  await all;
  assert.equal(ended.length, 5);
  assert.ok(most <= 2, `at most 2 at once, saw ${most}`);
  for (let i = 0; i < 5; i++) assert.equal(srv.files.get('/f' + i).length, 3000);
});

test('numbers for people', () => {
  assert.equal(up.fmtBytes(0), '0 B');
  assert.equal(up.fmtBytes(1536), '1.5 KiB');
  assert.equal(up.fmtBytes(300 * 1024 * 1024), '300 MiB');
  assert.equal(up.fmtRate(2 * 1024 * 1024), '2.0 MiB/s');
  assert.equal(up.fmtLeft(42.2), '43 s left');
  assert.equal(up.fmtLeft(125), '2 min 5 s left');
  assert.equal(up.fmtLeft(7300), '2 h 1 min left');
  assert.equal(up.fmtLeft(Infinity), '');
  assert.equal(up.percent(61, 100), 61);
  assert.equal(up.percent(0, 0), 100);
  assert.equal(up.offsetField('123'), 123);
  for (const bad of [null, '', '-1', '1.5', '12a', '99999999999999999']) assert.equal(up.offsetField(bad), -1);
});

test('cancelled while its creation is on the way: the upload made is deleted', async () => {
  const srv = new FakeServer();
  const env = makeEnv(srv);
  const u = new up.Upload({ target: '/k', file: file(randomBytes(5000)), partSize: 1000 }, env);
  const going = u.start();
  u.cancel();
  await going;
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  assert.equal(u.status, 'cancelled');
  assert.deepEqual(srv.log.map((r) => r.method), ['POST', 'DELETE']);
  assert.equal(srv.uploads.size, 0);
});

test('the Repr-Digest member read from the server', async () => {
  const b64 = createHash('sha256').update('x').digest('base64');
  assert.equal(up.sha256Member(`sha-256=:${b64}:`), b64);
  assert.equal(up.sha256Member(`sha-512=:AAAA:, sha-256=:${b64}:`), b64);
  for (const bad of [null, '', 'sha-256=abc', `sha-256=:${b64}`, 'md5=:AAAA:']) assert.equal(up.sha256Member(bad), null);
  const srv = new FakeServer();
  const env = makeEnv(srv);
  const u = await run(new up.Upload({ target: '/h', file: file(randomBytes(10)), partSize: 100 }, env));
  const request = env.request;
  env.request = (m, url, h, body, p) => {
    assert.equal(m, 'HEAD');
    assert.equal(h['Want-Repr-Digest'], 'sha-256=10');
    return { promise: Promise.resolve(answer(200, { 'Repr-Digest': `sha-256=:${b64}:` })), abort() {} };
  };
  assert.equal(await u.askDigest(), b64);
  assert.equal(u.digest, b64);
  env.request = request;
});
