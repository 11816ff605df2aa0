/**
 * The wire form of a failed reply: infra.v1.Error in the body, the code's name in the
 * "Infra-Error" header (so a reader can tell an error without decoding the body).
 */
import { loadProtoRoot, protoCodec, type Codec } from './codec.js';
import { BusError, errorCodeFromWire, errorCodeToWire, RemoteError } from './errors.js';

export const ERROR_HEADER = 'Infra-Error';

const errorType = loadProtoRoot(['infra/v1/errors.proto']).lookupType('infra.v1.Error');

/** Encodes any BusError; decodes into a RemoteError with the same code, message and field. */
export const errorCodec: Codec<BusError> = protoCodec<BusError>(
  errorType,
  {
    toWire: (e) => ({ code: errorCodeToWire(e.code), message: e.message.slice(0, 4096), field: e.field.slice(0, 256) }),
    fromWire: (w) =>
      new RemoteError(
        errorCodeFromWire(typeof w.code === 'number' ? w.code : 0),
        typeof w.message === 'string' ? w.message : '',
        typeof w.field === 'string' ? w.field : '',
      ),
  },
  { maxBytes: 16 * 1024, maxDepth: 1, maxFields: 16 },
);
