/** Schemas shared by several routes. */
import { Type } from '@sinclair/typebox';

export const Identifier = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$',
  description: 'Letters, digits, and . _ : - (at most 128 characters)',
});

export const Position = Type.String({
  description: 'Log position; send it back as Streamfold-Min-Position to read your writes',
});

export const CommandResult = Type.Object({
  revision: Type.Integer({ description: 'The stream revision after the command' }),
  position: Position,
});

export const CommandHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({ description: 'The stream revision the client expects, as returned in ETag' }),
  ),
});

export const QueryHeaders = Type.Object({
  'streamfold-min-position': Type.Optional(
    Type.String({ description: 'Wait until the read model has caught up with this position' }),
  ),
  'streamfold-max-wait-ms': Type.Optional(
    Type.String({
      pattern: '^[0-9]{1,9}$',
      description: 'Longest wait for Streamfold-Min-Position, in ms (capped by the server)',
    }),
  ),
});

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    instance: Type.String(),
    code: Type.String(),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details' },
);

export const problemResponses = {
  400: ProblemSchema,
  404: ProblemSchema,
  409: ProblemSchema,
  422: ProblemSchema,
  503: ProblemSchema,
} as const;
