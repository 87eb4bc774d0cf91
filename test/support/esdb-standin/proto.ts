/**
 * The service definitions and messages shipped inside `@eventstore/db-client` (its
 * `generated/` folder, compiled from EventStoreDB's own .proto files). The stand-in serves these
 * very definitions, so the client and the stand-in cannot disagree on the wire format.
 *
 * They are CommonJS modules built by google-protobuf, whose exports Node cannot name
 * statically, hence `createRequire` rather than `import`.
 */
import { createRequire } from 'node:module';
import type * as FeaturesGrpc from '@eventstore/db-client/generated/serverfeatures_grpc_pb.js';
import type * as FeaturesPb from '@eventstore/db-client/generated/serverfeatures_pb.js';
import type * as SharedPb from '@eventstore/db-client/generated/shared_pb.js';
import type * as StatusPb from '@eventstore/db-client/generated/status_pb.js';
import type * as StreamsGrpc from '@eventstore/db-client/generated/streams_grpc_pb.js';
import type * as StreamsPb from '@eventstore/db-client/generated/streams_pb.js';
import type * as AnyPb from 'google-protobuf/google/protobuf/any_pb.js';
import type * as EmptyPb from 'google-protobuf/google/protobuf/empty_pb.js';

const require = createRequire(import.meta.url);
const GENERATED = '@eventstore/db-client/generated';

export const streamsGrpc = require(`${GENERATED}/streams_grpc_pb.js`) as typeof StreamsGrpc;
export const streamsPb = require(`${GENERATED}/streams_pb.js`) as typeof StreamsPb;
export const sharedPb = require(`${GENERATED}/shared_pb.js`) as typeof SharedPb;
export const statusPb = require(`${GENERATED}/status_pb.js`) as typeof StatusPb;
export const featuresGrpc = require(
  `${GENERATED}/serverfeatures_grpc_pb.js`,
) as typeof FeaturesGrpc;
export const featuresPb = require(`${GENERATED}/serverfeatures_pb.js`) as typeof FeaturesPb;
export const anyPb = require('google-protobuf/google/protobuf/any_pb.js') as typeof AnyPb;
export const emptyPb = require('google-protobuf/google/protobuf/empty_pb.js') as typeof EmptyPb;
