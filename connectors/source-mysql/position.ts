/**
 * Where the binlog has been read up to. `gtid` is a MariaDB GTID position (`0-1-1234,...`) or a
 * MySQL GTID set (`uuid:1-5,...`) and survives a failover to another server of the topology;
 * file + pos are used when the server has no GTIDs, and only mean something on the server that
 * wrote them: `server_id` (and MySQL's `server_uuid`) name that server, so a source whose host now
 * is another server can tell, instead of reading a same-named file of the wrong server. Positions
 * persisted before these fields existed lack them.
 */
export interface BinlogPosition {
  gtid: string | null;
  file: string | null;
  pos: number | null;
  server_id?: number | null;
  server_uuid?: string | null;
}

/** The identity of the connected server, recorded with every position. */
export interface ServerIdentity {
  server_id: number;
  server_uuid: string | null;
}

/**
 * Whether a persisted position can be resumed on the connected server. A GTID position can (the
 * server itself refuses one it does not hold, with error 1236). A file+position only on the server
 * that wrote it; a position without identity (persisted by an older version) is taken as is.
 */
export function positionPortability(
  p: BinlogPosition,
  server: ServerIdentity,
): 'gtid' | 'same_server' | 'unknown_server' | 'other_server' {
  if (p.gtid != null) return 'gtid';
  if (p.server_id == null && p.server_uuid == null) return 'unknown_server';
  const same =
    p.server_uuid != null && server.server_uuid != null
      ? p.server_uuid === server.server_uuid
      : p.server_id === server.server_id;
  return same ? 'same_server' : 'other_server';
}

export const positionText = (p: BinlogPosition): string =>
  p.gtid != null && p.gtid !== '' ? p.gtid : `${p.file}:${p.pos}`;
