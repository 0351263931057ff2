/** The parts of blessed-contrib (no published types) the dashboard uses. */
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';
  interface BarData {
    titles: string[];
    data: number[];
  }
  interface LineSeries {
    title: string;
    x: string[];
    y: number[];
    style?: { line?: string };
  }
  interface BarElement extends Widgets.BoxElement {
    setData(d: BarData): void;
  }
  interface LineElement extends Widgets.BoxElement {
    setData(d: LineSeries[]): void;
  }
  const contrib: {
    bar(options: Widgets.BoxOptions & Record<string, unknown>): BarElement;
    line(options: Widgets.BoxOptions & Record<string, unknown>): LineElement;
  };
  export default contrib;
}
