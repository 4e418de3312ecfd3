// tap --pcap: each connection as a synthetic TCP flow (dgram and seqpacket: UDP) in a pcap file, written packet by packet on a non-blocking writer that the relay must not outrun.
import type { ByteWriter } from '../../io/writer';
import { clientPort, globalHeader, TcpFlow, UdpFlow } from '../../report/pcap';
import type { SocketType } from '../../sys/socket';
import type { Direction, TapEvent, TapSink } from './record';

/**
 * Writes tap's connections to a pcap file: the global header at once, then each event's packets, flushed after
 * each event so that the file is readable while tap runs. A stream connection is a TCP flow (handshake at open, FIN
 * at each shutdown, RST at a reset, or when the target could not be reached), a dgram or seqpacket one a UDP flow
 * (its messages only). Client 127.0.0.1 port clientPort(conn), server 127.0.0.2 port serverPort. Never closes the
 * writer's descriptor.
 */
export class PcapRecorder implements TapSink {
  private readonly flows = new Map<number, TcpFlow | UdpFlow>();
  private readonly emit = (head: Buffer, payload: Buffer | null) => {
    this.out.push(head); // copied: head is reused
    if (payload) this.out.push(payload); // copied: a view of the relay's receive buffer
  };

  constructor(
    private readonly out: ByteWriter,
    private readonly type: SocketType,
    private readonly serverPort: number,
  ) {
    out.push(globalHeader(), true);
    out.flush();
  }

  get full(): boolean {
    return this.out.full;
  }

  whenDrained(cb: () => void): void {
    this.out.whenDrained(cb);
  }

  open(conn: number, us: number): void {
    if (this.type !== 'stream') return void this.flows.set(conn, new UdpFlow(this.emit, clientPort(conn), this.serverPort));
    const flow = new TcpFlow(this.emit, clientPort(conn), this.serverPort);
    this.flows.set(conn, flow);
    flow.open(us);
    this.out.flush();
  }

  data(conn: number, dir: Direction, data: Buffer, us: number): void {
    const flow = this.flows.get(conn);
    if (!flow) return;
    flow.data(dir, data, us);
    this.out.flush();
  }

  event(conn: number, event: TapEvent, fields: { dir?: Direction; error?: string }, us: number): void {
    if (event === 'reject') {
      // A rejected client: accepted by the kernel, then reset by tap (stream only: a rejected datagram has no flow).
      if (this.type !== 'stream') return;
      const flow = new TcpFlow(this.emit, clientPort(conn), this.serverPort);
      flow.open(us);
      flow.reset('s2c', us);
      return this.out.flush();
    }
    const flow = this.flows.get(conn);
    if (!(flow instanceof TcpFlow)) {
      if (event === 'close') this.flows.delete(conn);
      return;
    }
    if (event === 'shutdown' && fields.dir) flow.shutdown(fields.dir, us);
    else if (event === 'close') {
      if (fields.error)
        flow.reset('s2c', us); // the target could not be reached (or failed): the server refused
      else flow.close(us);
      this.flows.delete(conn);
    }
    this.out.flush();
  }

  reset(conn: number, dir: Direction, us: number): void {
    const flow = this.flows.get(conn);
    if (!(flow instanceof TcpFlow)) return;
    flow.reset(dir, us);
    this.out.flush();
  }
}
