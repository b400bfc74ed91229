// np web: live updates without a reload. The server's /live stream (server-sent events, fed
// by the store's change feed) says which sessions changed; when the page shows one of them
// (or the session list), the fresh #live part is fetched and swapped in. A field the
// operator is typing in is never replaced: the swap waits until focus leaves the form.
// EventSource reconnects by itself; after a reconnect the page is refreshed once, so
// nothing committed while the stream was down is missed.
(function () {
  'use strict';
  var live = document.getElementById('live');
  var badge = document.getElementById('link-status');
  var sid = document.body.dataset.sid || '';  // data-here: the address to refresh from
  var pending = false, busy = false, down = false, failures = 0;

  function typing() {
    var el = document.activeElement;
    return el && live.contains(el) && el.closest('form') !== null;
  }
  function openDetails() {
    return Array.prototype.map.call(live.querySelectorAll('details[open]'), function (d) {
      var host = d.closest('[id]'); return host ? host.id + '|' + d.querySelector('summary').textContent : '';
    });
  }
  function fieldKey(el) { return (el.form ? el.form.getAttribute('action') : '') + '|' + el.name; }
  // What the operator typed and has not sent yet survives the swap, and so does the focus.
  // A refused form comes back filled with what was sent: that counts as typed, too.
  var sticky = {};
  live.querySelectorAll('form[data-refused] input, form[data-refused] textarea, form[data-refused] select')
    .forEach(function (el) { if (el.type !== 'hidden') sticky[fieldKey(el)] = el.type === 'checkbox' ? el.checked : el.value; });
  function dirtyFields() {
    var out = {};
    Object.keys(sticky).forEach(function (k) { out[k] = sticky[k]; });
    live.querySelectorAll('form input, form textarea, form select').forEach(function (el) {
      var changed = el.tagName === 'SELECT'
        ? Array.prototype.some.call(el.options, function (o) { return o.selected !== o.defaultSelected; })
        : (el.type === 'checkbox' ? el.checked !== el.defaultChecked : el.value !== el.defaultValue);
      if (changed && el.type !== 'hidden') out[fieldKey(el)] = el.type === 'checkbox' ? el.checked : el.value;
    });
    return out;
  }
  function focusKey() {
    var el = document.activeElement;
    if (!el || !live.contains(el) || el === live) return null;
    return el.id ? '#' + el.id : (el.getAttribute('href') ? 'a|' + el.getAttribute('href') : null);
  }
  function restore(dirty, focused) {
    live.querySelectorAll('form input, form textarea, form select').forEach(function (el) {
      var key = fieldKey(el);
      if (!(key in dirty)) return;
      if (el.type === 'checkbox') el.checked = dirty[key]; else el.value = dirty[key];
      var box = el.closest('details'); if (box) box.open = true;
    });
    if (focused === null) return;
    var target = focused.charAt(0) === '#' ? document.getElementById(focused.slice(1))
      : live.querySelector('a[href="' + focused.slice(2).replace(/"/g, '\\"') + '"]');
    if (target && live.contains(target)) target.focus();
  }
  function refresh() {
    if (typing() || busy) { pending = true; return; }
    busy = true; pending = false;
    var open = openDetails();
    var dirty = dirtyFields(), focused = focusKey();
    fetch(document.body.dataset.here || (location.pathname + location.search), { headers: { 'X-NP-Partial': 'live' }, credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        if (typing()) { pending = true; return; }  // the operator started typing meanwhile
        live.innerHTML = html;
        live.querySelectorAll('details').forEach(function (d) {
          var host = d.closest('[id]');
          if (host && open.indexOf(host.id + '|' + d.querySelector('summary').textContent) >= 0) d.open = true;
        });
        restore(dirty, focused);
        live.dataset.refreshed = String(Date.now());
        document.dispatchEvent(new CustomEvent('np:refreshed'));
      })
      .then(function () { failures = 0; }, function () { pending = true; failures += 1; })
      .then(function () {
        busy = false;
        // after a failed fetch, try again later (1 s, 2 s … at most 30 s), never in a tight loop
        if (pending && !typing()) setTimeout(refresh, failures ? Math.min(30000, 1000 * Math.pow(2, failures - 1)) : 0);
      });
  }
  live.addEventListener('focusout', function () { setTimeout(function () { if (pending && !typing()) refresh(); }, 0); });

  if (!window.EventSource) return;
  var source = new EventSource('/live');
  source.addEventListener('hello', function () {
    if (down) { down = false; refresh(); }
    badge.textContent = 'live'; badge.classList.remove('down');
  });
  source.addEventListener('change', function (e) {
    var changes = e.data === 'resync' ? null : JSON.parse(e.data);
    if (!sid || changes === null || changes.some(function (c) { return c.sid === sid; })) refresh();
  });
  source.onerror = function () {
    down = true; badge.textContent = 'reconnecting…'; badge.classList.add('down');
  };
})();
