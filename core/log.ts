import pino, { DestinationStream, Logger } from 'pino';

/**
 * Structured logs. Request bodies are never logged; the redaction list is a second line of defence
 * for anything that might carry a credential.
 */
export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'sluice' },
      redact: {
        paths: [
          'password',
          '*.password',
          'token',
          '*.token',
          'salt',
          '*.salt',
          'secrets',
          '*.secrets',
          'authorization',
          '*.authorization',
          '*.headers.authorization',
          'config.*',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
