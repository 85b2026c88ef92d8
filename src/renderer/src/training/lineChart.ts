// A small wrapper around uPlot for the training curves: created once, fed new data in place. Renderer.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
}

/** Tick spacings for a whole-number axis: 1, 2, 5, 10, 20, 50, … */
const INTEGER_STEPS = Array.from({ length: 8 }, (_, e) => [1, 2, 5].map((m) => m * 10 ** e)).flat();

export class LineChart {
  private plot: uPlot;
  private readonly observer: ResizeObserver;

  constructor(
    private readonly el: HTMLElement,
    title: string,
    xLabel: string,
    series: Series[],
  ) {
    const width = el.clientWidth || 400;
    this.plot = new uPlot(
      {
        title,
        width,
        height: 200,
        scales: { x: { time: false } },
        axes: [
          // Epochs and steps are whole numbers: only integer ticks.
          { label: xLabel, stroke: '#9aa1ad', grid: { stroke: '#2a2e37' }, incrs: INTEGER_STEPS },
          { stroke: '#9aa1ad', grid: { stroke: '#2a2e37' } },
        ],
        series: [
          { label: xLabel },
          ...series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 1.5,
            spanGaps: true,
            points: { size: 4 },
          })),
        ],
        legend: { live: false },
      },
      [[], ...series.map(() => [])],
      el,
    );
    this.observer = new ResizeObserver(() =>
      this.plot.setSize({ width: el.clientWidth || width, height: 200 }),
    );
    this.observer.observe(el);
  }

  /** Replaces the data: x values, then one array per series (null for a gap). */
  setData(x: number[], ys: (number | null)[][]): void {
    this.plot.setData([x, ...ys] as uPlot.AlignedData);
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot.destroy();
  }
}
