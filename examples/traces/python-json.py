import json
d = {str(i): list(range(i % 40)) for i in range(5000)}
for k in list(d)[::2]:
    del d[k]
s = json.dumps(d)
print(len(s), len(json.loads(s)))
