/**
 * Payloads made with Python's msgpack (`msgpack.packb(x, use_bin_type=True)`, which writes the
 * same bytes as msgspec for these shapes), one per historical vLLM event layout. Independent of
 * this package's encoder, so they pin both the decoder and the encoder.
 */
export const H = 15760518052499183552n;
export const TOKENS = Array.from({ length: 16 }, (_, i) => i + 1);

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));

/** v0.9: `[ts, events]`; BlockStored has 6 elements, BlockRemoved 2. */
export const V0_9 = hex(
  "92cb41d954fc402000009396ab426c6f636b53746f72656492cfdab89baa7b5857c007c0dc00200102030405060708090a0b0c0d0e0f100102030405060708090a0b0c0d0e0f1010c092ac426c6f636b52656d6f76656491cfdab89baa7b5857c091b0416c6c426c6f636b73436c6561726564",
);
/** v0.11: BlockStored with medium (7 elements), parent hash 12345, dp rank 0. */
export const V0_11 = hex(
  "93cb41d954fc405000009297ab426c6f636b53746f72656491cfdab89baa7b5857c0cd3039dc00100102030405060708090a0b0c0d0e0f1010c0a347505593ac426c6f636b52656d6f76656491cfdab89baa7b5857c0a347505500",
);
/** v0.22: every field, 12-element BlockStored with LoRA extra keys; BlockRemoved on CPU with group 1; dp rank 2. */
export const V0_22 = hex(
  "93cb41d954fc40800000939cab426c6f636b53746f72656492cfdab89baa7b5857c0cfffffffffffffffffc0dc00200102030405060708090a0b0c0d0e0f100102030405060708090a0b0c0d0e0f101003a3475055a76d792d6c6f72619291a76d792d6c6f726191a76d792d6c6f726100ae66756c6c5f617474656e74696f6ec094ac426c6f636b52656d6f76656491cfdab89baa7b5857c0a34350550191b0416c6c426c6f636b73436c656172656402",
);
/** v0.26 map-encoded events: the volcano-sh/kthena #1535 capture plus BlockRemoved and AllBlocksCleared. */
export const V0_26 = hex(
  "93cb41daa8dbe0359fe7938ba474797065ab426c6f636b53746f726564ac626c6f636b5f68617368657391cfdab89baa7b5857c0b1706172656e745f626c6f636b5f68617368c0a9746f6b656e5f696473dc00100102030405060708090a0b0c0d0e0f10aa626c6f636b5f73697a6510a76c6f72615f6964c0a66d656469756da3475055a96c6f72615f6e616d65c0aa65787472615f6b65797391c0a967726f75705f69647800b26b765f63616368655f737065635f6b696e64ae66756c6c5f617474656e74696f6e83a474797065ac426c6f636b52656d6f766564ac626c6f636b5f68617368657391cfdab89baa7b5857c0a66d656469756da347505581a474797065b0416c6c426c6f636b73436c656172656400",
);
