export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

export interface ProgressOptions {
  label: string;
  total: number;
  stream?: ProgressStream;
}

export interface Progress {
  /** Records `count` more units done. */
  tick(count: number): void;
  /** Finishes the display; later ticks are ignored. */
  done(): void;
}

interface Renderer {
  update(current: number): void;
  finish(current: number): void;
}

const barWidth = 30;
const lineStepPercent = 10;

function percentOf(current: number, total: number): number {
  return total === 0 ? 100 : Math.min(100, Math.floor((current * 100) / total));
}

/**
 * A progress display for long CLI work. On a terminal it redraws one bar in place; elsewhere (logs, CI,
 * pipes) it writes a line at the start, at every 10% and at the end, so a log stays short.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const total = Math.max(0, options.total);
  const renderer =
    stream.isTTY === true
      ? barRenderer(stream, options.label, total)
      : lineRenderer(stream, options.label, total);
  let current = 0;
  let finished = false;
  return {
    tick(count: number) {
      if (finished) return;
      current += count;
      renderer.update(current);
    },
    done() {
      if (finished) return;
      finished = true;
      renderer.finish(current);
    },
  };
}

function barRenderer(stream: ProgressStream, label: string, total: number): Renderer {
  let drawnPercent = -1;
  const draw = (current: number) => {
    const percent = percentOf(current, total);
    const filled = Math.round((percent / 100) * barWidth);
    stream.write(
      `\r${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${percent}% ${current}/${total}`,
    );
    drawnPercent = percent;
  };
  draw(0);
  return {
    // Redrawn only when the percentage moves: a terminal write per row would slow a large restore.
    update: (current) => {
      if (percentOf(current, total) !== drawnPercent) draw(current);
    },
    finish: (current) => {
      draw(current);
      stream.write('\n');
    },
  };
}

function lineRenderer(stream: ProgressStream, label: string, total: number): Renderer {
  let reportedStep = 0;
  stream.write(`${label}: started (${total} total)\n`);
  return {
    update: (current) => {
      const step = Math.floor(percentOf(current, total) / lineStepPercent) * lineStepPercent;
      // 100% is left to finish(), which always writes the closing line.
      if (step <= reportedStep || step >= 100) return;
      reportedStep = step;
      stream.write(`${label}: ${step}% (${current}/${total})\n`);
    },
    finish: (current) => {
      stream.write(`${label}: done (${current}/${total})\n`);
    },
  };
}
