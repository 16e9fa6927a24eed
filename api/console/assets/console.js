// Charts of the pipeline page (uPlot), drawn from /v1/pipelines/:id/metrics through the console
// and redrawn every 10 s (the history's resolution). Everything else is htmx attributes in the HTML.
(function () {
  'use strict';
  function series(points, key) { return points.map(function (p) { return p[key]; }); }
  function draw(root) {
    var src = root.getAttribute('data-metrics');
    var charts = {};
    function build(el, opts, data) {
      var width = Math.max(300, el.clientWidth || 480);
      if (charts[el.dataset.series]) { charts[el.dataset.series].setData(data); return; }
      el.textContent = '';
      charts[el.dataset.series] = new uPlot(Object.assign({ width: width, height: 200 }, opts), data, el);
    }
    function refresh() {
      fetch(src, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); }).then(function (m) {
        var t = m.points.map(function (p) { return Date.parse(p.at) / 1000; });
        root.querySelectorAll('.chart').forEach(function (el) {
          if (el.dataset.series === 'lag') {
            build(el, { series: [{}, { label: 'lag (records)', stroke: '#b42318', width: 2 }], axes: [{}, { size: 70 }] }, [t, series(m.points, 'lag')]);
          } else {
            build(el, { series: [{}, { label: 'in /s', stroke: '#1f4fa8', width: 2 }, { label: 'out /s', stroke: '#146c2e', width: 2 }], axes: [{}, { size: 70 }] },
              [t, series(m.points, 'events_in_per_s'), series(m.points, 'events_out_per_s')]);
          }
          el.setAttribute('data-points', String(t.length));
        });
      }).catch(function () { /* shown as an empty chart; the next refresh tries again */ });
    }
    refresh();
    setInterval(refresh, 10000);
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('[data-metrics]').forEach(draw);
  });
})();
