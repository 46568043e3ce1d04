/* The page's uploads: each file is a resumable upload
 * (draft-ietf-httpbis-resumable-upload-11, as ferry serve speaks it). A
 * creation request (Upload-Complete: ?0, Upload-Length), then PATCH parts
 * of at most partSize bytes at Upload-Offset, each with its Content-Digest
 * when WebCrypto is there. A cut connection, a server restart or going
 * offline is retried with back-off (HEAD for the offset, then PATCH) for
 * as long as the upload exists on the server (HEAD 404 or 410 ends it).
 * Unfinished uploads are kept in localStorage by target, size and the
 * file's lastModified, so that after a reload the same file picked again
 * resumes; a file that differs in either starts a new upload.
 *
 * No DOM here: the requests, the storage, the clock and the digest come in
 * through env, so that node's test runner drives this module as it is
 * (tests/js/test_upload.mjs). In the browser it is window.ferryUpload. */
(function (root, make) {
  'use strict';
  if (typeof module === 'object' && module.exports) module.exports = make();
  else root.ferryUpload = make();
})(this, function () {
  'use strict';

  var STORE_KEY = 'ferry.uploads';
  var BACKOFF_MIN = 500, BACKOFF_MAX = 15000, REFUSED_MAX = 5;
  /* Parts hashed ahead of the one being sent. Two, so that two hashes run
     at once: in Chromium reading a part (Blob.arrayBuffer) and hashing it
     (WebCrypto) each take about as long as sending it, and one part's read
     overlaps the other's hash; with one ahead the page waited for its
     hasher (bench/upload_page.sh, docs/BENCHMARKS.md). Each hash in flight
     holds its part in memory: at most AHEAD parts per upload. */
  var AHEAD = 2;

  /* ---- the record of unfinished uploads ---------------------------------- */

  function keyOf(target, size, lastModified) {
    return target + '\n' + size + '\n' + lastModified;
  }

  /* storage: a localStorage (getItem, setItem) or null. Never throws: a
     full or refused storage only means no resuming after a reload. */
  function Store(storage) {
    this.storage = storage || null;
  }
  Store.prototype.all = function () {
    if (!this.storage) return {};
    try {
      var v = JSON.parse(this.storage.getItem(STORE_KEY) || '{}');
      return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
    } catch (e) {
      return {};
    }
  };
  Store.prototype.write = function (all) {
    if (!this.storage) return;
    try {
      this.storage.setItem(STORE_KEY, JSON.stringify(all));
    } catch (e) { /* no room: nothing to resume from after a reload */ }
  };
  /* The record of exactly this file at target, or null. */
  Store.prototype.find = function (target, size, lastModified) {
    var r = this.all()[keyOf(target, size, lastModified)];
    if (!r || r.target !== target || r.size !== size || r.lastModified !== lastModified ||
        typeof r.location !== 'string')
      return null;
    return r;
  };
  /* The records at target that are not this file. */
  Store.prototype.others = function (target, size, lastModified) {
    var all = this.all(), k = keyOf(target, size, lastModified), out = [];
    Object.keys(all).forEach(function (key) {
      if (key !== k && all[key] && all[key].target === target) out.push(all[key]);
    });
    return out;
  };
  Store.prototype.save = function (rec) {
    var all = this.all();
    all[keyOf(rec.target, rec.size, rec.lastModified)] = rec;
    this.write(all);
  };
  Store.prototype.remove = function (rec) {
    var all = this.all(), k = keyOf(rec.target, rec.size, rec.lastModified);
    if (k in all) {
      delete all[k];
      this.write(all);
    }
  };
  /* Every record, oldest first. */
  Store.prototype.list = function () {
    var all = this.all();
    return Object.keys(all).map(function (k) { return all[k]; }).filter(function (r) {
      return r && typeof r.target === 'string';
    }).sort(function (a, b) { return (a.time || 0) - (b.time || 0); });
  };

  /* ---- numbers for people ------------------------------------------------ */

  function fmtBytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return (i === 0 ? String(Math.round(n)) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }
  function fmtRate(bytesPerSecond) {
    return fmtBytes(bytesPerSecond) + '/s';
  }
  function fmtLeft(seconds) {
    if (!isFinite(seconds) || seconds < 0) return '';
    seconds = Math.ceil(seconds);
    if (seconds < 60) return seconds + ' s left';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s left';
    return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min left';
  }
  function percent(done, size) {
    return size > 0 ? Math.floor(100 * done / size) : 100;
  }

  /* ---- fields ------------------------------------------------------------- */

  /* An Upload-Offset value: a non-negative integer, or -1. */
  function offsetField(v) {
    if (typeof v !== 'string' || !/^[0-9]{1,16}$/.test(v.trim())) return -1;
    return Number(v.trim());
  }
  function completeField(v) {
    return typeof v === 'string' && v.trim() === '?1';
  }
  /* The sha-256 member of a Repr-Digest value ("sha-256=:B64:", a
     Structured Field Dictionary of byte sequences), or null. */
  function sha256Member(v) {
    if (typeof v !== 'string') return null;
    var parts = v.split(',');
    for (var i = 0; i < parts.length; i++) {
      var m = /^\s*sha-256=:([A-Za-z0-9+/]{43}=):\s*$/.exec(parts[i]);
      if (m) return m[1];
    }
    return null;
  }
  function base64(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s);
  }
  /* A hasher from WebCrypto's subtle (only in secure contexts: https, or
     http to 127.0.0.1 / localhost), or null. */
  function webHasher(subtle) {
    if (!subtle || typeof subtle.digest !== 'function') return null;
    return function (blob) {
      return blob.arrayBuffer().then(function (buf) {
        return subtle.digest('SHA-256', buf);
      }).then(function (md) {
        return 'sha-256=:' + base64(new Uint8Array(md)) + ':';
      });
    };
  }

  /* ---- one upload ----------------------------------------------------------- */

  function Failure(message, fatal) {
    this.message = message;
    this.fatal = fatal;
  }

  /* o: target (the URL path the file goes to, encoded), file (a Blob with
     size and lastModified), partSize; env: request(method, url, headers,
     body, onprogress) -> {promise: resolves {status, header(name)} (status
     0: no answer), abort()}, store (a Store), hasher (blob -> Promise of a
     Content-Digest value) or null, sleep(ms) -> Promise, online() -> bool,
     now() -> ms, resolve(location, target) -> URL, and optionally ahead
     (parts hashed ahead, else AHEAD); onchange(upload) is
     called on every change. */
  function Upload(o, env, onchange) {
    this.target = o.target;
    this.file = o.file;
    this.size = o.file.size;
    this.lastModified = o.file.lastModified;
    this.partSize = Math.max(1, Math.floor(o.partSize || 16 * 1024 * 1024));
    this.env = env;
    this.onchange = onchange || function () {};
    this.location = null;
    this.offset = 0;      /* what the server said it holds */
    this.partLoaded = 0;  /* of the part being sent */
    this.sent = 0;        /* body bytes handed to the network in all */
    this.refused = 0;     /* parts the server refused (digest) in a row */
    this.status = 'waiting';
    this.message = 'waiting';
    this.said = [];       /* the messages shown, in order, each once in a row */
    this.resumed = false; /* it went on from an upload found in the store */
    this.gen = 0;
    this.req = null;
    this.samples = [];
    this.speed = 0;
    var rec = env.store.find(this.target, this.size, this.lastModified);
    if (rec) {
      this.location = rec.location;
      this.offset = rec.offset || 0;
      this.resumed = true;
    }
  }
  Upload.prototype.done = function () {
    return this.offset + this.partLoaded;
  };
  Upload.prototype.percent = function () {
    return percent(this.done(), this.size);
  };
  Upload.prototype.finished = function () {
    return this.status === 'done' || this.status === 'failed' || this.status === 'cancelled';
  };
  Upload.prototype.set = function (status, message) {
    this.status = status;
    if (message !== this.message && this.said.length < 200) this.said.push(message);
    this.message = message;
    this.onchange(this);
  };
  Upload.prototype.record = function () {
    return {target: this.target, name: this.file.name || '', size: this.size,
      lastModified: this.lastModified, location: this.location, offset: this.offset,
      time: this.env.now()};
  };
  /* Speed over the last few seconds of progress. */
  Upload.prototype.sample = function () {
    var now = this.env.now(), s = this.samples;
    s.push([now, this.done()]);
    while (s.length > 2 && now - s[0][0] > 5000) s.shift();
    var dt = (now - s[0][0]) / 1000;
    this.speed = dt > 0.2 ? Math.max(0, (this.done() - s[0][1]) / dt) : this.speed;
  };
  Upload.prototype.timeLeft = function () {
    return this.speed > 0 ? (this.size - this.done()) / this.speed : Infinity;
  };
  Upload.prototype.call = function (method, url, headers, body) {
    var self = this, last = 0;
    var r = this.env.request(method, url, headers, body, function (loaded) {
      if (loaded > last) {
        self.sent += loaded - last;
        last = loaded;
      }
      if (body) {
        self.partLoaded = Math.min(loaded, body.size);
        self.sample();
        self.onchange(self);
      }
    });
    this.req = r;
    return r.promise.then(function (res) {
      if (self.req === r) self.req = null;
      self.partLoaded = 0;
      return res;
    });
  };

  /* Forgets every other upload of another file to the same target: the
     server's copy is deleted, it would never be resumed. */
  Upload.prototype.dropOthers = function () {
    var env = this.env;
    env.store.others(this.target, this.size, this.lastModified).forEach(function (r) {
      env.store.remove(r);
      env.request('DELETE', r.location, {}, null, null);
    });
  };

  Upload.prototype.create = function () {
    var self = this, gen = this.gen, complete = this.size === 0;
    this.set('sending', 'starting');
    if (this.gen !== gen) return Promise.reject(new Failure('stopped', false));
    this.creating = true; /* not aborted: its answer names what to delete */
    return this.call('POST', this.target, {
      'Upload-Complete': complete ? '?1' : '?0',
      'Upload-Length': String(this.size)
    }, null).then(function (res) {
      self.creating = false;
      var made = res.status === 201 && res.header('Location');
      if (self.gen !== gen && made) {
        var was = self.env.resolve(res.header('Location'), self.target);
        if (self.status === 'cancelled') self.env.request('DELETE', was, {}, null, null);
        else self.location = was; /* paused while it was made */
      }
      if (self.gen !== gen) throw new Failure('stopped', false);
      if (res.status === 0 || res.status >= 500) throw new Failure('no answer', false);
      if (complete && res.status >= 200 && res.status < 300) return self.finish();
      var loc = res.header('Location');
      if (res.status !== 201 || !loc)
        throw new Failure('failed: ' + res.status + (res.statusText ? ' ' + res.statusText : ''),
          true);
      self.location = self.env.resolve(loc, self.target);
      var off = offsetField(res.header('Upload-Offset'));
      self.offset = off > 0 ? off : 0;
      self.dropOthers();
      self.env.store.save(self.record());
    });
  };

  Upload.prototype.head = function () {
    var self = this;
    return this.call('HEAD', this.location, {}, null).then(function (res) {
        if (res.status === 0 || res.status >= 500) throw new Failure('no answer', false);
        if (res.status === 404 || res.status === 410) {
          self.env.store.remove(self.record());
          throw new Failure('failed: the upload is no longer on the server', true);
        }
        if (res.status < 200 || res.status >= 300)
          throw new Failure('failed: ' + res.status, true);
        if (completeField(res.header('Upload-Complete'))) return self.finish();
        var off = offsetField(res.header('Upload-Offset'));
        if (off < 0 || off > self.size) throw new Failure('failed: no offset from the server', true);
        self.offset = off;
        self.needHead = false;
        self.env.store.save(self.record());
      });
  };

  /* The Content-Digest of the part [start, end): a promise of the value,
     or of null without a hasher. The last AHEAD + 1 asked are kept, so
     that the next parts' are made while the one before them is sent. */
  Upload.prototype.digestOf = function (start, end) {
    if (!this.env.hasher) return Promise.resolve(null);
    var key = start + '-' + end, kept = this.digests || [];
    for (var i = 0; i < kept.length; i++)
      if (kept[i].key === key) return kept[i].value;
    var value = this.env.hasher(this.file.slice(start, end));
    value.catch(function () {}); /* seen when asked for; not an unhandled rejection */
    this.digests = kept.concat([{key: key, value: value}]).slice(-(this.ahead() + 1));
    return value;
  };

  /* Parts hashed ahead: env.ahead when it is a whole number from 0 to 8
     (bench/upload_page.py compares), else AHEAD. */
  Upload.prototype.ahead = function () {
    var a = this.env.ahead;
    return typeof a === 'number' && a >= 0 && a <= 8 && Math.floor(a) === a ? a : AHEAD;
  };

  Upload.prototype.patch = function () {
    var self = this, gen = this.gen, start = this.offset, end = Math.min(this.size, start + this.partSize);
    var last = end === this.size, part = this.file.slice(start, end);
    var headers = {
      'Content-Type': 'application/partial-upload',
      'Upload-Offset': String(start),
      'Upload-Complete': last ? '?1' : '?0'
    };
    var digest = this.digestOf(start, end);
    /* The next AHEAD parts are hashed while this one is on the way
       (WebCrypto hashes off the page's thread, several at once). */
    for (var i = 1, at = end; i <= this.ahead() && at < this.size; i++, at += this.partSize)
      this.digestOf(at, Math.min(this.size, at + this.partSize));
    return digest.then(function (d) {
      if (d) headers['Content-Digest'] = d;
      if (self.gen !== gen || self.finished() || self.status === 'paused')
        throw new Failure('stopped', false);
      self.set('sending', self.resumedAt ? 'resuming at ' + self.resumedAt + '%' : 'sending');
      if (self.gen !== gen) throw new Failure('stopped', false); /* paused or cancelled by set */
      return self.call('PATCH', self.location, headers, part);
    }).then(function (res) {
      self.resumedAt = 0;
      var off = offsetField(res.header('Upload-Offset'));
      if (res.status === 0 || res.status >= 500) throw new Failure('no answer', false);
      if (res.status === 404 || res.status === 410) {
        self.env.store.remove(self.record());
        throw new Failure('failed: the upload is no longer on the server', true);
      }
      if (res.status === 409 && off >= 0 && off <= self.size) {
        self.offset = off;
        return;
      }
      if (res.status === 400 && off >= 0 && off <= self.size &&
          !completeField(res.header('Upload-Complete'))) {
        /* The part did not match its Content-Digest: refused, sent again. */
        self.refused++;
        if (self.refused > REFUSED_MAX)
          throw new Failure('failed: the server refused ' + self.refused + ' parts', true);
        self.offset = off;
        return;
      }
      if (res.status < 200 || res.status >= 300)
        throw new Failure('failed: ' + res.status, true);
      self.refused = 0;
      if (completeField(res.header('Upload-Complete'))) return self.finish();
      self.offset = off >= 0 && off <= self.size ? off : end;
      self.env.store.save(self.record());
    });
  };

  Upload.prototype.finish = function () {
    this.offset = this.size;
    this.partLoaded = 0;
    this.env.store.remove(this.record());
    this.set('done', 'done');
  };

  /* Once done: asks the server for the file's Repr-Digest (HEAD with
     Want-Repr-Digest); this.digest is its sha-256 in base64, or null when
     the server does not know it yet. */
  Upload.prototype.askDigest = function () {
    var self = this;
    if (this.status !== 'done') return Promise.resolve(null);
    return this.env.request('HEAD', this.target, {'Want-Repr-Digest': 'sha-256=10'}, null, null)
      .promise.then(function (res) {
        self.digest = res.status === 200 ? sha256Member(res.header('Repr-Digest')) : null;
        if (self.digest) self.onchange(self);
        return self.digest;
      });
  };

  /* Runs until done, failed, paused or cancelled. */
  Upload.prototype.start = function () {
    var self = this, gen = ++this.gen, delay = BACKOFF_MIN;
    if (this.resumed && this.location) this.needHead = true;
    function step() {
      if (self.gen !== gen || self.finished() || self.status === 'paused')
        return Promise.resolve();
      var p = !self.location ? self.create() : self.needHead ? self.head() : self.patch();
      return p.then(function () {
        delay = BACKOFF_MIN;
        return step();
      }, function (e) {
        if (self.gen !== gen || self.finished() || self.status === 'paused') return;
        if (!(e instanceof Failure)) e = new Failure('failed: ' + (e && e.message), true);
        if (e.fatal) {
          self.set('failed', e.message);
          return;
        }
        var wait = delay;
        delay = Math.min(BACKOFF_MAX, delay * 2);
        self.set('retrying', self.env.online() ? 'connection lost, retrying in ' +
          Math.ceil(wait / 1000) + ' s' : 'waiting for the network');
        return self.env.sleep(wait).then(function () {
          if (self.gen !== gen || self.status !== 'retrying') return;
          if (self.location) {
            self.needHead = true;
            self.resumedAt = self.percent();
            self.set('retrying', 'resuming at ' + self.resumedAt + '%');
          }
          return step();
        });
      });
    }
    this.set('sending', this.resumed ? 'resuming' : 'starting');
    return step();
  };
  Upload.prototype.stopRequest = function () {
    this.gen++;
    var r = this.req;
    this.req = null;
    this.partLoaded = 0;
    if (r && !this.creating) r.abort();
  };
  /* Stops sending; what the server holds stays, start() goes on from it. */
  Upload.prototype.pause = function () {
    if (this.finished()) return;
    this.stopRequest();
    if (this.location) this.resumed = true;
    this.set('paused', 'paused at ' + this.percent() + '%');
  };
  /* Stops and deletes the upload on the server. */
  Upload.prototype.cancel = function () {
    if (this.finished()) return Promise.resolve();
    this.stopRequest();
    this.set('cancelled', 'cancelled');
    if (!this.location) return Promise.resolve();
    this.env.store.remove(this.record());
    return this.env.request('DELETE', this.location, {}, null, null).promise;
  };

  /* ---- a bounded number at once ------------------------------------------------ */

  /* Runs queued uploads, at most max at once; a paused one gives up its
     place, resume queues it again. ondone(upload) when one ends. */
  function Queue(max, ondone) {
    this.max = max;
    this.ondone = ondone || function () {};
    this.waiting = [];
    this.active = [];
  }
  Queue.prototype.add = function (u) {
    this.waiting.push(u);
    this.pump();
  };
  Queue.prototype.pump = function () {
    var self = this;
    while (this.active.length < this.max && this.waiting.length > 0) {
      var u = this.waiting.shift();
      if (u.finished()) continue;
      this.active.push(u);
      (function (up) {
        up.start().catch(function (e) {
          up.set('failed', 'failed: ' + (e && e.message));
        }).then(function () {
          var i = self.active.indexOf(up);
          if (i >= 0 && (up.finished() || up.status === 'paused')) {
            self.active.splice(i, 1);
            if (up.finished()) self.ondone(up);
            self.pump();
          }
        });
      })(u);
    }
  };
  Queue.prototype.pause = function (u) {
    u.pause();
    var i = this.active.indexOf(u);
    if (i >= 0) this.active.splice(i, 1);
    this.pump();
  };
  Queue.prototype.resume = function (u) {
    if (u.status !== 'paused') return;
    u.set('waiting', 'waiting');
    this.add(u);
  };
  Queue.prototype.cancel = function (u) {
    var i = this.waiting.indexOf(u);
    if (i >= 0) this.waiting.splice(i, 1);
    var was = this.active.indexOf(u);
    if (was >= 0) this.active.splice(was, 1);
    var p = u.cancel();
    this.ondone(u);
    this.pump();
    return p;
  };

  /* ---- the browser's side ------------------------------------------------------ */

  /* env.request over XMLHttpRequest (upload progress, abort). */
  function xhrRequest(XHR) {
    return function (method, url, headers, body, onprogress) {
      var xhr = new XHR(), settle;
      var promise = new Promise(function (resolve) { settle = resolve; });
      function answer(status) {
        settle({status: status, statusText: status ? xhr.statusText : '',
          header: function (n) { return status ? xhr.getResponseHeader(n) : null; }});
      }
      xhr.open(method, url);
      Object.keys(headers).forEach(function (k) { xhr.setRequestHeader(k, headers[k]); });
      if (onprogress && body) xhr.upload.onprogress = function (e) { onprogress(e.loaded); };
      xhr.onload = function () { answer(xhr.status); };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () { answer(0); };
      xhr.send(body);
      return {promise: promise, abort: function () { xhr.abort(); }};
    };
  }

  return {
    Store: Store, Upload: Upload, Queue: Queue, webHasher: webHasher, xhrRequest: xhrRequest,
    keyOf: keyOf, sha256Member: sha256Member, fmtBytes: fmtBytes, fmtRate: fmtRate, fmtLeft: fmtLeft, percent: percent,
    offsetField: offsetField, STORE_KEY: STORE_KEY, BACKOFF_MIN: BACKOFF_MIN,
    BACKOFF_MAX: BACKOFF_MAX, AHEAD: AHEAD
  };
});
