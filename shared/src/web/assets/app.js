// Herald's only script (served from /assets/, allowed by the page's CSP: script-src 'self').
// Progressive enhancement: every page works without it.
'use strict';
document.addEventListener('DOMContentLoaded', function () {
  // A filter form submits itself when one of its choices changes (its button stays for
  // people without JavaScript and for keyboard users who prefer it).
  document.querySelectorAll('form[data-autosubmit] select').forEach(function (select) {
    select.addEventListener('change', function () {
      if (select.form.requestSubmit) { select.form.requestSubmit(); } else { select.form.submit(); }
    });
  });
});
