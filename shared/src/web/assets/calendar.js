// The calendar's script: drag a post (a chip with data-post) to another day to move it there,
// at the same time of day. It posts the chip's own "Move" form (/calendar/move/<id>) with
// fetch, so the server's rules decide (a refusal is shown in #calendar-status). Pointer events,
// not HTML5 drag and drop: the same code for a mouse and a pen, and WebDriver can drive it.
// Touch keeps scrolling the page; on a phone the "Move" link is the way (and the keyboard's).
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var status = document.getElementById('calendar-status');
  var csrf = document.querySelector('meta[name="csrf-token"]');
  var dragged = null;
  var target = null;
  var start = null;

  function dayAt(x, y) {
    var el = document.elementFromPoint(x, y);
    return el ? el.closest('li.day[data-date]') : null;
  }

  function mark(day) {
    if (target === day) return;
    if (target) target.classList.remove('drop-target');
    target = day;
    if (target) target.classList.add('drop-target');
  }

  function say(text) {
    if (status) status.textContent = text;
  }

  function end() {
    if (dragged) dragged.classList.remove('dragging');
    mark(null);
    dragged = null;
    start = null;
  }

  document.querySelectorAll('li.chip[data-post]').forEach(function (chip) {
    chip.addEventListener('pointerdown', function (e) {
      if (e.pointerType === 'touch' || e.button !== 0 || e.target.closest('a')) return;
      start = { chip: chip, x: e.clientX, y: e.clientY, id: e.pointerId };
    });
  });

  document.addEventListener('pointermove', function (e) {
    if (!start || e.pointerId !== start.id) return;
    if (!dragged) {
      if (Math.abs(e.clientX - start.x) + Math.abs(e.clientY - start.y) < 6) return;
      dragged = start.chip;
      dragged.classList.add('dragging');
    }
    e.preventDefault();
    mark(dayAt(e.clientX, e.clientY));
  });

  document.addEventListener('pointerup', function (e) {
    if (!start || e.pointerId !== start.id) return;
    var chip = dragged;
    var day = chip ? dayAt(e.clientX, e.clientY) : null;
    end();
    if (!chip || !day || !csrf) return;
    var from = chip.closest('li.day[data-date]');
    if (from && from.dataset.date === day.dataset.date) return;
    var body = new URLSearchParams();
    body.set('csrf', csrf.content);
    body.set('date', day.dataset.date);
    body.set('time', chip.dataset.time);
    body.set('back', location.pathname + location.search);
    say('Moving…');
    fetch('/calendar/move/' + encodeURIComponent(chip.dataset.post), {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    }).then(function (res) {
      if (res.ok) {
        location.assign(res.url || location.href);
        return;
      }
      return res.text().then(function (html) {
        var page = new DOMParser().parseFromString(html, 'text/html');
        var problem = page.querySelector('.problem');
        say('Not moved: ' + (problem ? problem.textContent.trim() : 'the server said ' + res.status));
      });
    }).catch(function () {
      say('Not moved: the server could not be reached.');
    });
  });

  document.addEventListener('pointercancel', end);
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') end();
  });
});
