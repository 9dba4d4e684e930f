export interface Bar {
  label: string;
  value: number;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A horizontal bar chart as SVG: one bar per label, the value written at its end. */
export function barChartSvg(title: string, bars: readonly Bar[], unit: string): string {
  const rowHeight = 28;
  const labelWidth = 220;
  const barWidth = 440;
  const top = 48;
  const width = labelWidth + barWidth + 120;
  const height = top + Math.max(1, bars.length) * rowHeight + 16;
  let max = 0;
  for (const b of bars) if (b.value > max) max = b.value;
  const rows = bars.map((b, i) => {
    const y = top + i * rowHeight;
    const w = max > 0 ? Math.max(1, Math.round((b.value / max) * barWidth)) : 1;
    return `<text x="${labelWidth - 8}" y="${y + 18}" text-anchor="end" font-size="14">${escapeXml(b.label)}</text>`
      + `<rect x="${labelWidth}" y="${y + 4}" width="${w}" height="${rowHeight - 8}" fill="#4e79a7"/>`
      + `<text x="${labelWidth + w + 6}" y="${y + 18}" font-size="13">${escapeXml(`${b.value.toFixed(2)} ${unit}`)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`
    + `<rect width="100%" height="100%" fill="#ffffff"/><text x="16" y="28" font-size="18" font-weight="bold">${escapeXml(title)}</text>${rows.join('')}</svg>`;
}

/**
 * The chart as PNG, rendered by resvg (@resvg/resvg-js: a prebuilt Rust renderer, no browser). Labels use
 * the system's fonts; on a machine without any the bars are still drawn (the card's table has the numbers).
 */
export async function barChartPng(title: string, bars: readonly Bar[], unit: string): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  const svg = barChartSvg(title, bars, unit);
  return new Resvg(svg, { background: '#ffffff', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, logLevel: 'off' }).render().asPng();
}
