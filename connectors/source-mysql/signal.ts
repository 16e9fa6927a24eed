/** Sluice's signal table in the first included database: heartbeats and snapshot watermarks are rows in it (never captured). */
export const SIGNAL_TABLE = '_sluice_signal';
