// The few runtime globals that shared code may use. Both Node and every browser provide them, and
// declaring them here keeps src/shared free of DOM and Node type libraries.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string);
  decode(input?: ArrayBufferView | ArrayBuffer): string;
}
declare function btoa(data: string): string;
declare function atob(data: string): string;
