export { DestinationConnectError } from './destination-connect';
export { PositionLostError } from './position-lost';
export { TransformError } from './transform-error';
export { UnknownConnectorKindError } from './unknown-connector-kind';
