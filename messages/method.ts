/**
 * A request/reply operation: its name on the subject and the codecs of both directions.
 *
 * @example
 * const hello: Method<Hello, HelloReply> = { op: 'hello', request: helloCodec, response: helloReplyCodec };
 */
import type { Codec } from './codec.js';

export interface Method<Req, Res> {
  /** The operation's subject suffix, e.g. "pod.add". */
  readonly op: string;
  readonly request: Codec<Req>;
  readonly response: Codec<Res>;
}

/** A method whose types are erased, for tables of routes. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethod = Method<any, any>;

/** The request type of a method. */
export type RequestOf<M> = M extends Method<infer Req, unknown> ? Req : never;
/** The response type of a method. */
export type ResponseOf<M> = M extends Method<unknown, infer Res> ? Res : never;
