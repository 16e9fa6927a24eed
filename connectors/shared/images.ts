import type { Envelope } from '../../core/change-event';

/** Calls `f` on each row image of the event (before, then after) that exists. */
export const eachImage = (e: Envelope, f: (row: Record<string, unknown>) => void) => {
  if (e.before) f(e.before);
  if (e.after) f(e.after);
};
