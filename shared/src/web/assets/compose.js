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
