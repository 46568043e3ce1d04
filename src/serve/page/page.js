/* The listing page: uploads (each a resumable upload, upload.js), folders,
 * delete, and the filter box. Sent inline after upload.js; the server's
 * Content-Security-Policy allows exactly these bytes by their hash. */
(function () {
  'use strict';
  var U = window.ferryUpload;
  var body = document.body, writable = body.dataset.writable === '1';
  var MAX_ACTIVE = 3;
  var partSize = Number(body.dataset.uploadPart) > 0 ? Number(body.dataset.uploadPart) : 16 << 20;
  var queue = null, unfinished = null, uploads = [];
  function here() {
    var p = location.pathname;
    return p.charAt(p.length - 1) === '/' ? p : p + '/';
  }
  function enc(path) {
    return path.split('/').map(encodeURIComponent).join('/');
  }
  function shown(path) {
    try { return decodeURIComponent(path); } catch (e) { return path; }
  }
  function say(msg) {
    var m = document.getElementById('msg');
    if (m) m.textContent = msg;
  }

  /* ---- the filter box ---------------------------------------------------- */

  var filter = document.createElement('input');
  filter.id = 'filter';
  filter.type = 'search';
  filter.placeholder = 'filter';
  filter.setAttribute('aria-label', 'show only names containing');
  function applyFilter() {
    var want = filter.value.trim().toLowerCase();
    Array.prototype.forEach.call(document.querySelectorAll('tbody tr'), function (tr) {
      var a = tr.querySelector('td:first-child a'), name = a ? a.textContent : '';
      tr.hidden = want !== '' && name !== '../' && name.toLowerCase().indexOf(want) < 0;
    });
  }
  filter.addEventListener('input', applyFilter);
  var table = document.querySelector('table');
  if (table) table.parentNode.insertBefore(filter, table);

  function refresh() {
    return fetch(location.href, {cache: 'no-store'}).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (t) {
      if (!t) return;
      var fresh = new DOMParser().parseFromString(t, 'text/html').querySelector('tbody');
      var old = document.querySelector('tbody');
      if (fresh && old) old.replaceWith(document.importNode(fresh, true));
      applyFilter();
    });
  }

  /* ---- uploads --------------------------------------------------------------- */

  function sleep(ms) {
    return new Promise(function (resolve) {
      var t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        window.removeEventListener('online', done);
        resolve();
      }
      window.addEventListener('online', done);
    });
  }
  var env = {
    request: U.xhrRequest(XMLHttpRequest),
    store: new U.Store((function () {
      try { return window.localStorage; } catch (e) { return null; }
    })()),
    hasher: U.webHasher(window.crypto && window.crypto.subtle),
    sleep: sleep,
    online: function () { return navigator.onLine !== false; },
    now: function () { return Date.now(); },
    resolve: function (loc) { return new URL(loc, location.href).href; }
  };
  var runner = new U.Queue(MAX_ACTIVE, function (u) {
    if (u.status === 'done') { /* each file shows as soon as it is there */
      refresh();
      u.askDigest();
    }
  });

  function button(cls, text) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = cls;
    b.textContent = text;
    return b;
  }
  function row(label) {
    if (!queue) {
      queue = document.createElement('ul');
      queue.id = 'queue';
      body.insertBefore(queue, filter.parentNode ? filter : document.querySelector('table'));
    }
    var li = document.createElement('li'), name = document.createElement('span');
    var bar = document.createElement('progress'), state = document.createElement('span');
    var info = document.createElement('span');
    name.className = 'qn';
    name.textContent = label;
    bar.max = 100;
    bar.value = 0;
    state.className = 'qs';
    state.textContent = 'waiting';
    info.className = 'qi';
    li.className = 'waiting';
    li.dataset.events = '0';
    var pause = button('pause', 'pause'), cancel = button('cancel', 'cancel');
    li.append(name, ' ', bar, ' ', state, ' ', info, ' ', pause, ' ', cancel);
    queue.appendChild(li);
    return {li: li, bar: bar, state: state, info: info, pause: pause, cancel: cancel};
  }
  function show(r, u) {
    var cls = u.status === 'cancelled' ? 'failed' : u.status === 'retrying' ? 'sending' : u.status;
    r.li.className = cls;
    r.li.dataset.status = u.status;
    r.li.dataset.sent = String(u.sent);
    r.li.dataset.offset = String(u.offset);
    if (u.partLoaded > 0) r.li.dataset.events = String(+r.li.dataset.events + 1);
    r.bar.value = u.status === 'done' ? 100 : u.percent();
    r.state.textContent = u.status === 'sending' && u.message === 'sending'
      ? u.percent() + ' %' : u.message;
    r.info.textContent = u.status === 'sending' && u.speed > 0
      ? U.fmtRate(u.speed) + ', ' + U.fmtLeft(u.timeLeft())
      : u.digest ? 'sha-256 on the server: ' + u.digest : '';
    r.pause.textContent = u.status === 'paused' ? 'resume' : 'pause';
    r.pause.disabled = r.cancel.disabled = u.finished();
  }
  function failRow(r, text) {
    r.li.className = 'failed';
    r.state.textContent = text;
    r.pause.disabled = r.cancel.disabled = true;
  }
  function mkcol(path) {
    return fetch(here() + enc(path) + '/', {method: 'MKCOL'}).then(function (r) {
      if (r.status !== 201 && r.status !== 405) throw new Error(path + ': ' + r.status);
    });
  }
  /* items: [{path: 'a/b.txt', file: File}]. Folders are made first, parents
     before children; then the files go, a few at a time, each as a
     resumable upload. */
  function upload(items) {
    var dirs = {}, chain = Promise.resolve();
    items = Array.prototype.map.call(items, function (it) {
      return it instanceof File ? {path: it.webkitRelativePath || it.name, file: it} : it;
    });
    items.forEach(function (it) {
      var parts = it.path.split('/');
      for (var i = 1; i < parts.length; i++) dirs[parts.slice(0, i).join('/')] = true;
    });
    Object.keys(dirs).sort(function (a, b) {
      return a.split('/').length - b.split('/').length;
    }).forEach(function (d) {
      chain = chain.then(function () { return mkcol(d); });
    });
    var jobs = items.map(function (it) {
      var r = row(it.path);
      var u = new U.Upload({target: here() + enc(it.path), file: it.file, partSize: partSize}, env,
                           function (x) { show(r, x); });
      uploads.push(u);
      r.pause.addEventListener('click', function () {
        if (u.status === 'paused') runner.resume(u);
        else runner.pause(u);
      });
      r.cancel.addEventListener('click', function () { runner.cancel(u); });
      return {u: u, r: r};
    });
    return chain.then(function () {
      jobs.forEach(function (j) {
        if (!j.u.finished()) runner.add(j.u);
      });
      listUnfinished();
    }, function (e) {
      jobs.forEach(function (j) { failRow(j.r, 'failed: folder ' + e.message); });
    });
  }

  /* The uploads a page before this one did not finish: each resumes when
     the same file (same name, size and date) is picked or dropped again. */
  function listUnfinished() {
    var going = {};
    uploads.forEach(function (u) { if (!u.finished()) going[U.keyOf(u.target, u.size, u.lastModified)] = 1; });
    var recs = env.store.list().filter(function (r) {
      return !going[U.keyOf(r.target, r.size, r.lastModified)];
    });
    if (unfinished) unfinished.remove();
    unfinished = null;
    if (recs.length === 0) return;
    unfinished = document.createElement('div');
    unfinished.id = 'unfinished';
    var p = document.createElement('p'), ul = document.createElement('ul');
    p.textContent = 'Not finished: pick or drop the same file again to resume.';
    recs.forEach(function (r) {
      var li = document.createElement('li'), forget = button('forget', 'forget');
      li.textContent = shown(r.target) + ' (' + U.percent(r.offset || 0, r.size) + '% of ' +
        U.fmtBytes(r.size) + ') ';
      li.dataset.target = r.target;
      li.appendChild(forget);
      forget.addEventListener('click', function () {
        env.store.remove(r);
        env.request('DELETE', r.location, {}, null, null);
        listUnfinished();
      });
      ul.appendChild(li);
    });
    unfinished.append(p, ul);
    body.insertBefore(unfinished, filter.parentNode ? filter : document.querySelector('table'));
  }
  function readAll(reader) {
    return new Promise(function (resolve, reject) {
      var all = [];
      (function more() {
        reader.readEntries(function (batch) {
          if (batch.length === 0) return resolve(all);
          all = all.concat(batch);
          more();
        }, reject);
      })();
    });
  }
  function walk(entry, out) {
    if (entry.isFile) {
      return new Promise(function (resolve, reject) {
        entry.file(function (f) {
          out.push({path: entry.fullPath.replace(/^\/+/, ''), file: f});
          resolve();
        }, reject);
      });
    }
    return readAll(entry.createReader()).then(function (list) {
      return Promise.all(list.map(function (e) { return walk(e, out); }));
    });
  }
  window.ferry = {upload: upload, refresh: refresh, uploads: uploads, queue: runner, env: env};
  if (writable) listUnfinished();
  if (!writable) return;
  ['files', 'folder'].forEach(function (id) {
    var input = document.getElementById(id);
    if (input) input.addEventListener('change', function () {
      upload(Array.prototype.slice.call(input.files));
      input.value = '';
    });
  });
  body.addEventListener('dragover', function (e) {
    e.preventDefault();
    body.classList.add('over');
  });
  body.addEventListener('dragleave', function () { body.classList.remove('over'); });
  body.addEventListener('drop', function (e) {
    e.preventDefault();
    body.classList.remove('over');
    var out = [], walks = [];
    Array.prototype.forEach.call(e.dataTransfer.items, function (item) {
      var entry = item.webkitGetAsEntry && item.webkitGetAsEntry();
      if (entry) walks.push(walk(entry, out));
    });
    Promise.all(walks).then(function () { upload(out); });
  });
  document.getElementById('mkdir').addEventListener('click', function () {
    var input = document.getElementById('dirname'), name = input.value.trim();
    if (name === '' || name.indexOf('/') >= 0 || name === '.' || name === '..') {
      say('a folder name without "/"');
      return;
    }
    fetch(here() + encodeURIComponent(name) + '/', {method: 'MKCOL'}).then(function (r) {
      say(r.status === 201 ? 'created ' + name : 'could not create ' + name + ': ' + r.status);
      if (r.status === 201) {
        input.value = '';
        refresh();
      }
    });
  });
  document.addEventListener('click', function (e) {
    var b = e.target.closest('button.del');
    if (!b) return;
    if (b.dataset.armed !== '1') {
      b.dataset.armed = '1';
      b.textContent = 'really delete?';
      return;
    }
    var u = new URL(b.closest('tr').querySelector('a').getAttribute('href'), location.href);
    u.search = '';
    fetch(u.href, {method: 'DELETE'}).then(function (r) {
      if (r.ok) {
        say('deleted ' + shown(u.pathname));
        refresh();
      } else {
        b.textContent = 'failed: ' + r.status;
      }
    });
  });
})();
