"""Generates test/hashing/request-key-vectors.json from the README definition of inferd request keys,
independently of the TypeScript code. Run: /usr/bin/python3 gen_request_key_vectors.py > request-key-vectors.json"""
import xxhash, struct, cbor2, json
D="inferd.request-key.v1\n"
def root(m): return xxhash.xxh3_64_intdigest((D+m).encode())
def nxt(parent, toks, extra):
    b=struct.pack("<QI", parent, len(toks))+b"".join(struct.pack("<I",t) for t in toks)
    if extra is not None: b+=cbor2.dumps(extra, canonical=True)
    return xxhash.xxh3_64_intdigest(b)
out=[]
for model, toks, bs, lora, salt in [("Qwen/Qwen3-32B", list(range(1,49)), 16, None, None), ("Qwen/Qwen3-32B", list(range(1,49)), 16, "sql-lora", None), ("m", [151643, 0, 4294967295, 7]*4, 4, None, "salt"), ("m", list(range(16)), 16, "l", "s")]:
    p=root(model); keys=[]
    for i in range(len(toks)//bs):
        e=[]
        if lora: e.append(lora)
        if i==0 and salt: e.append(salt)
        p=nxt(p, toks[i*bs:(i+1)*bs], tuple(e) if e else None); keys.append(str(p))
    out.append({"model":model,"tokens":toks,"blockSize":bs,"loraName":lora,"cacheSalt":salt,"root":str(root(model)),"keys":keys})
print(json.dumps(out))
