# perfdiff.py BASE NEW N: per-request CPU of CPU 0 by symbol, NEW minus BASE (outputs of perfonly.sh).
import subprocess,sys,collections
def load(base):
    rps=float(open(base+'.rps').read())
    out=subprocess.run(['perf','report','-i',base+'.perf','--no-children','--sort','sym','--stdio','-g','none','-q'],capture_output=True,text=True).stdout
    d={}
    total=0
    for line in out.splitlines():
        p=line.split()
        if len(p)<3 or not p[0].endswith('%'): continue
        pct=float(p[0][:-1]); sym=' '.join(p[1:])
        d[sym]=pct/100*1e6/rps   # µs of CPU0 per request (CPU0 100% busy assumed)
    return d
a=load(sys.argv[1]); b=load(sys.argv[2])
print('per request: base %.2f us, new %.2f us'%(sum(a.values()),sum(b.values())))
rows=sorted(set(a)|set(b),key=lambda k:-(b.get(k,0)-a.get(k,0)))
n=int(sys.argv[3])
for k in rows[:n]+['...']+rows[-n//2:]:
    if k=='...': print('...'); continue
    print('%+6.2f %6.2f %6.2f %s'%(b.get(k,0)-a.get(k,0),a.get(k,0),b.get(k,0),k[:100]))
