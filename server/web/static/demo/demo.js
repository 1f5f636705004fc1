// The demo page's buttons: [data-chat] opens the widget on that playbook.
// A file, not an onclick attribute, so the page's CSP allows no inline script.
document.addEventListener('click', function (ev) {
  var b = ev.target.closest && ev.target.closest('[data-chat]');
  if (b && window.Playbook) window.Playbook.start(b.getAttribute('data-chat'));
});
