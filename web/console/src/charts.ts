// Charts of the overview, drawn by Chart.js (only the parts used are bundled): bars per UTC day,
// stacked by series, with axes and their units. Each chart's accessible name says its totals,
// and an empty period shows a sentence instead of an empty frame.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { h } from '../../shared/dom.ts';
import { count } from './ui.ts';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

export interface Series {
  label: string;
  colour: string;
  values: number[];
}

/** A stacked bar chart per day, or "No … in the last N days." when every value is 0. */
export function dailyChart(opts: { testId: string; title: string; unit: [string, string]; days: string[]; series: Series[] }): HTMLElement {
  const totals = opts.series.map((s) => ({ label: s.label, n: s.values.reduce((a, b) => a + b, 0) }));
  const all = totals.reduce((a, t) => a + t.n, 0);
  const period = `the last ${opts.days.length} days`;
  const heading = h('h3', {}, opts.title);
  if (all === 0) return h('figure', { class: 'chart', 'data-testid': opts.testId }, heading, h('p', { class: 'empty' }, `No ${opts.unit[1]} in ${period}.`));
  const summary = `${opts.title}, ${period}: ${totals.map((t) => `${t.n.toLocaleString('en')} ${t.label}`).join(', ')}.`;
  const canvas = h('canvas', { role: 'img', 'aria-label': summary }) as HTMLCanvasElement;
  const figure = h(
    'figure',
    { class: 'chart', 'data-testid': opts.testId },
    heading,
    h('div', { class: 'canvas-box' }, canvas),
    h('figcaption', {}, `${count(all, ...opts.unit)} in ${period}: ${totals.filter((t) => t.n > 0).map((t) => `${t.n.toLocaleString('en')} ${t.label}`).join(', ')}.`),
  );
  new Chart(canvas, {
    type: 'bar',
    data: {
      labels: opts.days.map((d) => d.slice(5)),
      datasets: opts.series.map((s) => ({ label: s.label, data: s.values, backgroundColor: s.colour, borderWidth: 0 })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { position: 'bottom', labels: { boxWidth: 12 } }, tooltip: { mode: 'index', intersect: false } },
      scales: {
        x: { stacked: true, title: { display: true, text: 'Day (UTC)' }, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, title: { display: true, text: opts.unit[1][0].toUpperCase() + opts.unit[1].slice(1) }, ticks: { precision: 0 } },
      },
    },
  });
  return figure;
}
