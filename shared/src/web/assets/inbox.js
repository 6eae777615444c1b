// The inbox screen's script (progressive enhancement: the page works without it).
// Keyboard shortcuts as in the inboxes people know: on the list, j/k move the selection and
// o (or Enter on the focused link) opens it; on a thread, r goes to the reply box and e closes.
// A key does nothing while a field has the focus or when a modifier key is held.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  var list = document.querySelector('[data-inbox-list]');
  var replyBox = document.getElementById('reply-text');
  var closeForm = document.getElementById('close-form');
  if (!list && !replyBox && !closeForm) { return; }

  // The hint is only true with this script running.
  document.querySelectorAll('[data-keyboard-hint]').forEach(function (hint) { hint.hidden = false; });

  var items = list ? Array.prototype.slice.call(list.querySelectorAll('[data-inbox-item]')) : [];
  var selected = -1;

  function linkOf(item) { return item.querySelector('a.open'); }

  function select(index) {
    if (items.length === 0) { return; }
    index = Math.max(0, Math.min(items.length - 1, index));
    items.forEach(function (item, i) {
      var link = linkOf(item);
      item.classList.toggle('selected', i === index);
      if (link) {
        if (i === index) { link.setAttribute('aria-current', 'true'); } else { link.removeAttribute('aria-current'); }
      }
    });
    selected = index;
    var link = linkOf(items[index]);
    if (link) { link.focus(); }
  }

  // Focus moved by Tab or a click keeps the selection in step.
  items.forEach(function (item, i) {
    var link = linkOf(item);
    if (link) { link.addEventListener('focus', function () { if (selected !== i) { select(i); } }); }
  });

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName.toLowerCase();
    return tag === 'input' || tag === 'textarea' || tag === 'select' || target.isContentEditable;
  }

  document.addEventListener('keydown', function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) { return; }
    if (typing(event.target)) { return; }
    switch (event.key) {
      case 'j':
        if (items.length) { event.preventDefault(); select(selected + 1); }
        break;
      case 'k':
        if (items.length) { event.preventDefault(); select(selected < 0 ? 0 : selected - 1); }
        break;
      case 'o':
        if (selected >= 0 && linkOf(items[selected])) { event.preventDefault(); linkOf(items[selected]).click(); }
        break;
      case 'r':
        if (replyBox) { event.preventDefault(); replyBox.focus(); }
        break;
      case 'e':
        if (closeForm) {
          event.preventDefault();
          if (closeForm.requestSubmit) { closeForm.requestSubmit(); } else { closeForm.submit(); }
        }
        break;
      default:
        break;
    }
  });
});
