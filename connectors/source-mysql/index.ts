import type { SourceModule } from '../module';
import { isMysqlConnectionError } from '../shared/mysql';
import { declaration } from './declaration';
import { BinlogPosition, positionText } from './position';

// Runtime parts load on first use, so the registry stays free of database drivers.
const source = () => require('./source') as typeof import('./source');
const counter = () => require('./row-counter') as typeof import('./row-counter');

export const sourceMysql = {
  declaration,
  connector: (ctx) => new (source().MysqlSource)(ctx),
  openCounter: (cfg) => counter().MysqlSourceCounter.open(cfg as never),
  isConnectionError: isMysqlConnectionError,
  positionText,
} satisfies SourceModule<BinlogPosition>;
