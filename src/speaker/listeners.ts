// Callbacks registered after a part is built: how a part reports to one built after it (usually
// the one that drives it), without binding a variable late. emit is bound, so it can be handed out.
export class Listeners<A extends unknown[] = []> {
  private readonly listeners: ((...args: A) => void)[] = [];

  add(listener: (...args: A) => void): void {
    this.listeners.push(listener);
  }

  readonly emit = (...args: A): void => {
    for (const l of this.listeners) l(...args);
  };
}
