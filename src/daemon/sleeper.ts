/**
 * A wait that can be cut short: `sleep(ms)` resolves after `ms` milliseconds or at the next
 * `wake()`. A wake that comes while nobody sleeps is kept, so the next sleep returns at once:
 * a change that arrives while a worker is busy is never slept through.
 */
export class Sleeper {
  #pending = false;
  #resolve: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;

  sleep(ms: number): Promise<void> {
    if (this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.#resolve = resolve;
      this.#timer = setTimeout(() => this.#finish(), Math.max(0, ms));
    });
  }

  wake(): void {
    if (this.#resolve) this.#finish();
    else this.#pending = true;
  }

  #finish(): void {
    clearTimeout(this.#timer);
    const resolve = this.#resolve;
    this.#resolve = undefined;
    this.#timer = undefined;
    resolve?.();
  }
}
