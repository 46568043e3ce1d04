(function () {
  'use strict';
  var body = document.body, writable = body.dataset.writable === '1';
  var queue = null, waiting = [], active = 0, MAX_ACTIVE = 2;
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
  function refresh() {
    fetch(location.href, {cache: 'no-store'}).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (t) {
      if (!t) return;
      var fresh = new DOMParser().parseFromString(t, 'text/html').querySelector('tbody');
      var old = document.querySelector('tbody');
      if (fresh && old) old.replaceWith(document.importNode(fresh, true));
    });
  }
  function row(label) {
    if (!queue) {
      queue = document.createElement('ul');
      queue.id = 'queue';
      body.insertBefore(queue, document.querySelector('table'));
    }
    var li = document.createElement('li'), name = document.createElement('span');
    var bar = document.createElement('progress'), state = document.createElement('span');
    var cancel = document.createElement('button');
    name.className = 'qn';
    name.textContent = label;
    bar.max = 100;
    bar.value = 0;
    state.className = 'qs';
    state.textContent = 'waiting';
    cancel.type = 'button';
    cancel.className = 'cancel';
    cancel.textContent = 'cancel';
    li.className = 'waiting';
    li.dataset.events = '0';
    li.append(name, ' ', bar, ' ', state, ' ', cancel);
    queue.appendChild(li);
    return {li: li, bar: bar, state: state, cancel: cancel, xhr: null};
  }
  function end(job, cls, text) {
    job.row.li.className = cls;
    job.row.state.textContent = text;
    job.row.cancel.disabled = true;
    if (job.row.xhr) {
      job.row.xhr = null;
      active--;
    }
    pump();
  }
  function start(job) {
    var r = job.row, xhr = new XMLHttpRequest();
    r.xhr = xhr;
    active++;
    r.li.className = 'sending';
    r.state.textContent = '0 %';
    xhr.open('PUT', here() + enc(job.path));
    xhr.upload.onprogress = function (e) {
      r.li.dataset.events = String(+r.li.dataset.events + 1);
      if (e.lengthComputable && e.total > 0) {
        r.bar.value = Math.floor(100 * e.loaded / e.total);
        r.state.textContent = r.bar.value + ' %';
      }
    };
    xhr.onload = function () {
      if (xhr.status >= 200 && xhr.status < 300) {
        r.bar.value = 100;
        end(job, 'done', 'done');
      } else {
        end(job, 'failed', 'failed: ' + xhr.status + ' ' + xhr.statusText);
      }
    };
    xhr.onerror = function () { end(job, 'failed', 'failed: connection'); };
    xhr.onabort = function () { end(job, 'failed', 'cancelled'); };
    xhr.send(job.file);
  }
  function pump() {
    while (active < MAX_ACTIVE && waiting.length > 0) {
      var job = waiting.shift();
      if (!job.cancelled) start(job);
    }
    if (active === 0 && waiting.length === 0) refresh();
  }
  function mkcol(path) {
    return fetch(here() + enc(path) + '/', {method: 'MKCOL'}).then(function (r) {
      if (r.status !== 201 && r.status !== 405) throw new Error(path + ': ' + r.status);
    });
  }
  /* items: [{path: 'a/b.txt', file: File}]. Folders are made first, parents
     before children; then the files go, a few at a time, each by PUT. */
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
      var job = {path: it.path, file: it.file, cancelled: false};
      job.row = row(it.path);
      job.row.cancel.addEventListener('click', function () {
        job.cancelled = true;
        if (job.row.xhr) job.row.xhr.abort();
        else end(job, 'failed', 'cancelled');
      });
      return job;
    });
    return chain.then(function () {
      jobs.forEach(function (j) { if (!j.cancelled) waiting.push(j); });
      pump();
    }, function (e) {
      jobs.forEach(function (j) { end(j, 'failed', 'failed: folder ' + e.message); });
    });
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
  window.ferry = {upload: upload, refresh: refresh};
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
