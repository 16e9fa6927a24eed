// Entry of a sink worker thread (workers/sink-thread.ts): every thread loads its own KafkaJS, so the
// speed patches must be required before anything else requires kafkajs.
import './kafkajs-patch';
import './kafkajs-consume-patch';
import './sink-thread';
