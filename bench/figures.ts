/** One measured quantity of a runtime that is not a call latency: memory, CPU, process counts. */
export interface Figure {
  label: string;
  unit: string;
  value: number;
}

/** Figures in the order they were taken; a label taken twice keeps its latest value. */
export class Figures {
  private readonly byLabel = new Map<string, Figure>();

  add(label: string, unit: string, value: number): void {
    this.byLabel.set(label, { label, unit, value });
  }

  list(): Figure[] {
    return [...this.byLabel.values()];
  }
}
