/*
 * Playbook inbox: attachments. No dependencies, no build step; loaded
 * after inbox.js, whose helpers it takes from window.PBInbox.
 *
 *   - a file entry (kind "file": data.file, name, type, size) shows an
 *     image as a thumbnail that opens it, anything else as a link with its
 *     name and size that downloads it (GET /api/conversations/ID/files/FILE,
 *     which asks the access policy);
 *   - the composer's paperclip, a file dropped on the composer or pasted
 *     into it sends it (POST /api/conversations/ID/files, multipart, with
 *     the CSRF token); the server's refusal (too big, a type it does not
 *     take) shows under the composer.
 */
(function () {
  'use strict';
  var P = window.PBInbox;
  if (!P) return;
  var D = document, el = P.el, str = P.str;
  function $(id) { return D.getElementById(id); }
  var svg = P.svg;
  var CLIP = ['M20 11.5l-7.8 7.8a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4L15 6.9'];
  var DOC = ['M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z', 'M14 3v5h5'];

  function size(n) {
    n = +n || 0;
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }
  function isImage(type) { return /^image\/(png|jpeg|gif|webp)(;|$)/.test(str(type)); }

  // body is the element a file entry shows in the transcript.
  function body(e, conv) {
    var d = e.data || {}, name = str(d.name) || 'file';
    var href = '/api/conversations/' + encodeURIComponent(conv) + '/files/' + encodeURIComponent(str(d.file));
    var a = el('a', isImage(d.type) ? 'file-img' : 'file-link');
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener';
    if (isImage(d.type)) {
      a.setAttribute('aria-label', 'Open image ' + name);
      var im = el('img');
      im.alt = name;
      im.loading = 'lazy';
      im.src = href;
      a.appendChild(im);
    } else {
      a.setAttribute('download', name);
      a.appendChild(svg(DOC));
      a.appendChild(el('span', 'file-name', name));
      a.appendChild(el('span', 'file-size', size(d.size)));
    }
    return a;
  }
  window.PBFiles = { body: body };

  function send(file) {
    var conv = P.openId();
    if (!conv || !file) return;
    var fd = new FormData();
    fd.append('file', file, file.name || 'file');
    P.composerError('');
    var path = '/api/conversations/' + encodeURIComponent(conv) + '/files?client_id=' + encodeURIComponent('f-' + P.newID());
    fetch(path, { method: 'POST', headers: { 'X-CSRF-Token': P.csrf() || '', Accept: 'application/json' }, body: fd, credentials: 'same-origin' })
      .then(function (r) {
        if (r.ok) return;
        return r.json().catch(function () { return {}; }).then(function (b) {
          P.composerError((file.name || 'The file') + ' was not sent: ' + ((b && b.error) || r.statusText || 'HTTP ' + r.status));
        });
      }, function () { P.composerError('The server cannot be reached. Check your connection.'); });
  }

  function setup() {
    var foot = D.querySelector('#composer .composer-foot'), sendBtn = $('send-btn'), composer = $('composer');
    if (!foot || !sendBtn) return;
    var input = el('input', 'file-input');
    input.type = 'file';
    input.id = 'file-input';
    input.tabIndex = -1;
    input.setAttribute('aria-hidden', 'true');
    var btn = el('button', 'icon-btn attach-btn');
    btn.type = 'button';
    btn.id = 'attach-btn';
    btn.title = 'Attach a file (or drop it here, or paste it)';
    btn.setAttribute('aria-label', 'Attach a file');
    btn.appendChild(svg(CLIP));
    btn.addEventListener('click', function () { input.click(); });
    input.addEventListener('change', function () {
      Array.prototype.forEach.call(input.files || [], send);
      input.value = '';
    });
    foot.insertBefore(btn, sendBtn);
    foot.insertBefore(input, sendBtn);
    // Notes stay text: the paperclip sends to the visitor, so it shows in
    // Reply mode only, and not while the composer is off (resolved, taken).
    var sync = function () { btn.hidden = composer.classList.contains('note-mode'); btn.disabled = composer.classList.contains('disabled'); };
    new MutationObserver(sync).observe(composer, { attributes: true, attributeFilter: ['class'] });
    sync();
    var hasFiles = function (ev) { return ev.dataTransfer && Array.prototype.indexOf.call(ev.dataTransfer.types || [], 'Files') >= 0; };
    composer.addEventListener('dragover', function (ev) {
      if (!hasFiles(ev) || btn.hidden || btn.disabled) return;
      ev.preventDefault();
      composer.classList.add('dropping');
    });
    composer.addEventListener('dragleave', function (ev) { if (!composer.contains(ev.relatedTarget)) composer.classList.remove('dropping'); });
    composer.addEventListener('drop', function (ev) {
      composer.classList.remove('dropping');
      if (!hasFiles(ev) || btn.hidden || btn.disabled) return;
      ev.preventDefault();
      Array.prototype.forEach.call(ev.dataTransfer.files, send);
    });
    $('composer-input').addEventListener('paste', function (ev) {
      var fs = ev.clipboardData && ev.clipboardData.files;
      if (!fs || !fs.length || btn.hidden || btn.disabled) return;
      ev.preventDefault();
      Array.prototype.forEach.call(fs, send);
    });
  }
  setup();
})();
