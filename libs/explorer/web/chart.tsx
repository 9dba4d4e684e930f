import { useEffect, useRef } from 'preact/hooks';
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip, type ChartConfiguration } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font').trim() || 'system-ui, sans-serif';
Chart.defaults.color = '#3b4351';

export const COLORS = { kept: '#2f855a', dropped: '#c05621', error: '#c53030', selected: '#2b6cb0', candidates: '#a0aec0', target: '#1a202c' };

/**
 * A Chart.js bar chart. The canvas is an image for screen readers (role img, its label); every chart
 * on the page has the same figures in a table beside it.
 */
export function BarChart(props: { config: ChartConfiguration<'bar'>; label: string; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar'> | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, { ...props.config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...props.config.options } });
    return () => chart.current?.destroy();
  }, [JSON.stringify(props.config.data), JSON.stringify(props.config.options ?? {})]);
  return (
    <div class="chart" style={{ height: `${props.height ?? 260}px` }}>
      <canvas ref={canvas} role="img" aria-label={props.label} />
    </div>
  );
}
