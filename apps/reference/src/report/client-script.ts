/**
 * The page's own script, plain ES2017 run by the browser after uPlot's: it draws every chart
 * from the embedded JSON (`#report-data`), fills the hover readouts, and drives the rollout
 * viewer (run and step selectors, advantage shading, token readout). It only sets
 * `textContent`, never `innerHTML`, so data cannot inject markup.
 */
export const CLIENT_SCRIPT = `
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);

  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return 'rgba(' + ((n >> 16) & 255) + ',' + ((n >> 8) & 255) + ',' + (n & 255) + ',' + alpha + ')';
  }
  function fmt(v) {
    if (v === null || v === undefined) return '–';
    var a = Math.abs(v);
    return a !== 0 && (a < 0.001 || a >= 10000) ? v.toExponential(2) : v.toFixed(a < 10 ? 3 : 1);
  }

  // Steps are integers: no tick at 12.5.
  var STEP_INCREMENTS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000];
  var plots = [];
  var rendered = 0;
  data.charts.forEach(function (chart) {
    var box = document.getElementById('chart-' + chart.id);
    if (!box || chart.series.length === 0) return;
    var target = box.querySelector('.plot');
    var readout = box.querySelector('.readout');
    var columns = [chart.steps];
    var series = [{ label: 'step' }];
    var bands = [];
    chart.series.forEach(function (s) {
      var meanIndex = columns.length;
      columns.push(s.mean, s.high, s.low);
      series.push(
        { label: s.strategy, stroke: s.color, width: 2, spanGaps: true },
        { label: s.strategy + ' + std', stroke: 'transparent', width: 0, spanGaps: true, points: { show: false } },
        { label: s.strategy + ' − std', stroke: 'transparent', width: 0, spanGaps: true, points: { show: false } }
      );
      bands.push({ series: [meanIndex + 1, meanIndex + 2], fill: rgba(s.color, 0.18) });
    });
    function showReadout(index) {
      if (index === null || index === undefined) {
        readout.textContent = 'Hover the chart for values.';
        return;
      }
      var parts = ['step ' + chart.steps[index]];
      chart.series.forEach(function (s) {
        if (s.mean[index] === null) return;
        var spread = s.n[index] > 1 ? ' ± ' + fmt(s.high[index] - s.mean[index]) : '';
        parts.push(s.strategy + ' ' + fmt(s.mean[index]) + spread + ' (n=' + s.n[index] + ')');
      });
      readout.textContent = parts.join('   ·   ');
    }
    var options = {
      width: Math.max(280, target.clientWidth || 520),
      height: 240,
      series: series,
      bands: bands,
      legend: { show: false },
      scales: { x: { time: false } },
      axes: [
        { label: 'step', labelSize: 18, size: 36, incrs: STEP_INCREMENTS },
        { label: chart.yLabel, labelSize: 18, size: 56 }
      ],
      hooks: { setCursor: [function (u) { showReadout(u.cursor.idx); }] }
    };
    plots.push({ plot: new uPlot(options, columns, target), target: target });
    showReadout(null);
    box.setAttribute('data-state', 'rendered');
    rendered++;
  });
  window.addEventListener('resize', function () {
    plots.forEach(function (p) {
      p.plot.setSize({ width: Math.max(280, p.target.clientWidth), height: 240 });
    });
  });
  document.body.setAttribute('data-charts-rendered', String(rendered));

  var runSelect = document.getElementById('rollout-run');
  var stepSelect = document.getElementById('rollout-step');
  var shade = document.getElementById('rollout-shade');
  var viewer = document.getElementById('rollouts');
  if (!runSelect || !stepSelect || !viewer) return;
  var articles = Array.prototype.slice.call(viewer.querySelectorAll('article.rollout'));

  function fillSteps() {
    var run = data.rollouts.runs[Number(runSelect.value)];
    while (stepSelect.firstChild) stepSelect.removeChild(stepSelect.firstChild);
    (run ? run.steps : []).forEach(function (step) {
      var option = document.createElement('option');
      option.value = step;
      option.textContent = step === 'none' ? 'no step' : 'step ' + step;
      stepSelect.appendChild(option);
    });
    stepSelect.value = run && run.steps.length ? run.steps[run.steps.length - 1] : '';
  }
  function show() {
    var shown = 0;
    articles.forEach(function (article) {
      var visible =
        article.getAttribute('data-run') === runSelect.value &&
        article.getAttribute('data-step') === stepSelect.value;
      article.hidden = !visible;
      if (visible) shown++;
    });
    viewer.setAttribute('data-shown', String(shown));
  }
  runSelect.addEventListener('change', function () { fillSteps(); show(); });
  stepSelect.addEventListener('change', show);
  if (shade) {
    shade.addEventListener('change', function () {
      document.body.classList.toggle('shade-advantages', shade.checked);
    });
  }
  viewer.addEventListener('mouseover', function (event) {
    var token = event.target.closest ? event.target.closest('.tok') : null;
    if (!token) return;
    var article = token.closest('article.rollout');
    var readout = article && article.querySelector('.token-readout');
    if (!readout) return;
    var text = 'token ' + token.getAttribute('data-t') + ' ' + JSON.stringify(token.textContent);
    var advantage = token.getAttribute('data-adv');
    if (advantage !== null) text += ' · advantage ' + Number(advantage).toFixed(4);
    text += token.querySelector('mark.planning') ? ' · planning' : ' · execution';
    readout.textContent = text;
  });
  fillSteps();
  show();
})();
`;
