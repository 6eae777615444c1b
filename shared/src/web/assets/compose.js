// The compose screen's script (progressive enhancement: the page works without it).
// As the person types, it posts the form to /compose/check (the server counts each chosen
// network's text its own way and says every problem) and shows the answer in #checks. No rule
// is computed here. It also hides the per-network text boxes of networks not chosen.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var form = document.getElementById('compose');
  var region = document.getElementById('checks');
  if (!form || !region || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
  var timer = null;
  var asked = 0;

  function showChosenVariants() {
    var chosen = {};
    form.querySelectorAll('input[name="channel"]').forEach(function (input) {
      if (input.type === 'hidden' || input.checked) { chosen[input.getAttribute('data-network') || ''] = true; }
    });
    form.querySelectorAll('.variant[data-network]').forEach(function (box) {
      var area = box.querySelector('textarea');
      var typed = area && area.value.trim() !== '';
      box.hidden = !chosen[box.getAttribute('data-network')] && !typed;
    });
  }

  function check() {
    var mine = ++asked;
    var body = new URLSearchParams(new FormData(form));
    fetch('/compose/check', { method: 'POST', body: body, credentials: 'same-origin' })
      .then(function (response) {
        if (!response.ok) { throw new Error('check answered ' + response.status); }
        return response.text();
      })
      .then(function (html) {
        if (mine !== asked) { return; } // an older answer arriving late
        var open = {};
        region.querySelectorAll('section.net details[open]').forEach(function (d) {
          open[d.closest('section').getAttribute('aria-label')] = true;
        });
        region.innerHTML = html;
        region.querySelectorAll('section.net').forEach(function (s) {
          var d = s.querySelector('details');
          if (d && open[s.getAttribute('aria-label')]) { d.open = true; }
        });
      })
      .catch(function () { /* keep the last counters; the server checks again on submit */ });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(check, 300);
  }

  form.addEventListener('input', later);
  form.addEventListener('change', function () { showChosenVariants(); later(); });
  showChosenVariants();
});

// Uploads: each file chosen is announced to POST /v1/media (its type and size; the session's
// CSRF token in x-csrf-token), sent to the address that answers (Herald's own, or the media
// bucket's on AWS), and its reference put in the first free media row, whose description is
// then asked for. The server checks the file again when the post is saved.
document.addEventListener('DOMContentLoaded', function () {
  var form = document.getElementById('compose');
  var input = document.getElementById('media_file');
  var status = document.getElementById('upload-status');
  var csrf = form && form.querySelector('input[name="csrf"]');
  if (!form || !input || !status || !csrf || !window.fetch) { return; }
  input.closest('.upload').hidden = false;

  function say(text) { status.textContent = text; }

  function freeRow() {
    var rows = form.querySelectorAll('.media-row');
    for (var i = 0; i < rows.length; i++) {
      var url = rows[i].querySelector('input[name="media_url"]');
      if (url && url.value.trim() === '') { return rows[i]; }
    }
    return null;
  }

  function refusal(response) {
    return response.json().then(function (body) {
      var e = body && body.error;
      throw new Error(e && e.message ? e.message : 'answered ' + response.status);
    }, function () { throw new Error('answered ' + response.status); });
  }

  function upload(file) {
    var row = freeRow();
    if (!row) { return Promise.reject(new Error('every media row is taken; empty one first')); }
    var ask = fetch('/v1/media', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf.value },
      body: JSON.stringify({ content_type: file.type, bytes: file.size })
    });
    return ask.then(function (response) {
      return response.ok ? response.json() : refusal(response);
    }).then(function (ticket) {
      var sent = fetch(ticket.url, { method: ticket.method, headers: ticket.headers, body: file, credentials: 'omit' });
      return sent.then(function (response) {
        if (!response.ok) { return refusal(response); }
        var url = row.querySelector('input[name="media_url"]');
        url.value = ticket.reference;
        var note = row.querySelector('.upload-note') || document.createElement('p');
        note.className = 'upload-note';
        note.textContent = 'Uploaded: ' + file.name;
        if (file.type.indexOf('image/') === 0 && window.URL && URL.createObjectURL) {
          var img = document.createElement('img');
          img.src = URL.createObjectURL(file);
          img.alt = '';
          img.className = 'upload-thumb';
          note.insertBefore(img, note.firstChild);
        }
        row.appendChild(note);
        url.dispatchEvent(new Event('input', { bubbles: true }));
        return row;
      });
    });
  }

  input.addEventListener('change', function () {
    var files = Array.prototype.slice.call(input.files || []);
    var done = 0;
    var last = null;
    var next = function () {
      if (!files.length) {
        input.value = '';
        if (last) {
          say(done + (done === 1 ? ' file uploaded' : ' files uploaded') + '. Describe each for people who cannot see it.');
          last.querySelector('input[name="media_alt"]').focus();
        }
        return;
      }
      var file = files.shift();
      say('Uploading ' + file.name + '…');
      upload(file).then(function (row) { done++; last = row; next(); }, function (e) {
        input.value = '';
        say(file.name + ' was not uploaded: ' + e.message);
      });
    };
    next();
  });
});
