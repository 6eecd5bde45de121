"""The decode step of the GPU kernels emulated in numpy on a decode case (one kv head, no gate):
`kern` = the fused step (fp32 key in registers: H_t applied with compensated w.k and fma, scored
with a compensated dot product before it is rounded to the cache dtype), `kern_plain` = the plain
step (rounded k^(t-1) against H_t q_t), `base` = emulated_decode (cache rounded, then scored).
Prefilled rows are taken from the case's expected values. Writes o then lse (all rows) as text.
usage: python3 emulate_decode.py SUITE_DIR CASE kern|kern_plain|base OUT.txt
(made the kernel-emulated/*.txt with `kern`; needs numpy, ml_dtypes, safetensors and
adapters/python on sys.path)."""
import sys, json, os, numpy as np
import os; sys.path.insert(0, os.path.join(os.path.dirname(__file__), '../../../../adapters/python'))
import pathcase
from safetensors import safe_open
f32=np.float32
def load(d, name):
    c=pathcase.read_case(d,name)
    f=safe_open(f"{d}/{name}.safetensors",'np')
    T={k:f.get_tensor(k) for k in f.keys()}
    tol=json.loads(f.metadata()['tolerances'])
    return c,T,tol
def rd(x,dt):
    if dt=='F32': return np.asarray(x,np.float32)
    if dt=='F16': return np.asarray(x,np.float16).astype(np.float32)
    return np.asarray(x,pathcase.BFLOAT16).astype(np.float32)
def dot2(a,b):  # compensated ~ exact then rounded
    return f32(np.dot(np.asarray(a,np.float64),np.asarray(b,np.float64)))
def dotloop(a,b):
    s=f32(0)
    for x,y in zip(a,b): s=f32(s+f32(f32(x)*f32(y)))
    return s
def exact_row(q,K,V,scale):
    s=(K.astype(np.float64)@q.astype(np.float64))*scale
    m=s.max(); p=np.exp(s-m); l=p.sum()
    return (p@V.astype(np.float64))/l, m+np.log(l), s
def soft32(s,V,dt,round_p=True):
    m=s.max(); p=np.exp((s-m).astype(np.float64)).astype(np.float32)  # correctly rounded exp
    l=f32(0); acc=np.zeros(V.shape[1],np.float32)
    for j in range(len(s)):
        l=f32(l+p[j]); pr=rd(p[j],dt) if round_p else p[j]
        acc=(acc+f32(pr)*V[j]).astype(np.float32)
    o=rd(acc/l,dt); lse=f32(m+f32(np.log(np.float64(l))))
    return o,lse

import sys
d,name=sys.argv[1],sys.argv[2]
c,T,tol=load(d,name)
dt=c.input_dtype; P=c.prefill_length
b=0;h=0
q=rd(c.q[b,:,h],dt);k=rd(c.k[b,:,h],dt);v=rd(c.v[b,:,h],dt);w=f32(c.w[b,:,h]);be=f32(c.beta[b,:,h]);sc=f32(c.scale)
Tn=q.shape[0]
assert c.g is None
def run(mode):
    """mode: 'exact', 'base' (transform fp32, round cache to dt before scoring), 'kern' (transform in fp32 regs from dt cache, score unrounded, store rounded), 'kern_plain'(query carries H_t)"""
    K=[]; O=[];Lse=[]
    for t in range(Tn):
        if mode=='exact':
            K=[kk-np.float64(be[t])*np.dot(w[t].astype(np.float64),kk)*w[t].astype(np.float64) for kk in K]+[k[t].astype(np.float64)]
            o,l,_=exact_row(q[t],np.array(K),v[:t+1],float(sc)); O.append(o);Lse.append(l); continue
        if t<P:
            K=[(kk-np.float64(be[t])*np.dot(w[t].astype(np.float64),kk.astype(np.float64))*w[t]).astype(np.float32) for kk in K]+[k[t].copy()]
            if t==P-1: K=[rd(kk,dt) for kk in K]
            O.append(T['o'][b,t,h]); Lse.append(T['lse'][b,t,h]); continue
        if mode=='kern_plain':
            # query carries H_t: logits of cached keys = k^(t-1) . (H_t q)
            qt=q[t].astype(np.float64); qh=(qt-np.float64(be[t])*np.dot(w[t],qt)*w[t]).astype(np.float32)
            s=[f32(dot2(kk,qh)*sc) for kk in K]+[f32(dot2(k[t],q[t])*sc)]
            K=[rd((kk-np.float64(be[t])*np.dot(w[t].astype(np.float64),kk.astype(np.float64))*w[t]).astype(np.float32),dt) for kk in K]+[k[t].copy()]
        else:
            Kt=[(kk-np.float64(f32(be[t]*dot2(kk,w[t])))*w[t]).astype(np.float32) for kk in K]+[k[t].copy()]
            if mode=='base': Kt=[rd(kk,dt) for kk in Kt]
            s=[f32(dot2(kk,q[t])*sc) for kk in Kt]
            K=[rd(kk,dt) for kk in Kt]
        o,l=soft32(np.array(s,np.float32),v[:t+1],dt); O.append(o); Lse.append(l)
    return np.array(O,np.float64),np.array(Lse,np.float64),np.array(K,np.float64)

O,L,K=run(sys.argv[3])
out=sys.argv[4]
with open(out,'w') as fo:
    fo.write('# o then lse, row-major, the fused decode step emulated in numpy (tools: see commit message)\n')
    fo.write(' '.join('%.17g'%x for x in O.ravel())+'\n')
    fo.write(' '.join('%.17g'%x for x in L.ravel())+'\n')
