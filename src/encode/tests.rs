//! Encoder tests. Every expected output below was captured from a real influxd 1.6.7
//! (`1.6.7~rc0`) on loopback, for the request named in each test, after writing this data
//! (db `t`) with `POST /write`:
//!
//! ```text
//! m,host=a,region=us\ west f=0.1,i=1i,s="plain",b=true 1704067200000000000
//! m,host=a,region=us\ west f=1e21,i=-9223372036854775808i,s="quote\" and \\ backslash",b=false 1704067200500000000
//! m,host=a,region=us\ west f=1e-7,i=9223372036854775807i,s="uni é ✓ 😀 <>&",b=true 1704067200123456789
//! m,host=a,region=us\ west f=100,i=0i,s="new⏎line<TAB>tab",b=false 1704067201000000000
//! m,host=b,region=eu f=-0,i=5i,s="comma,here",b=true 1704067202000000000
//! m,host=b,region=eu f=1.7976931348623157e308,i=6i,s="",b=true 1704067203000000000
//! m,host=b,region=eu f=5e-324,i=7i,s="x",b=true 1704067204000000000
//! m,host=b,region=eu f=123456789012345678,i=8i,s="y",b=true 1704067205000000000
//! m,host=b,region=eu f=1e20,i=9i,s="z",b=true 1704067206000000000
//! m,host=b,region=eu f=0.000001,i=10i,s="z2",b=true 1704067207000000000
//! m,host=b,region=eu f=-1.5e-10,i=11i,s="z3",b=true 1704067208000000000
//! m,host=b,region=eu f=3.0,i=12i,s="u2028 \u2028",b=true 1704067209000000000
//! n v=1 -1500000
//! n v=2 1
//! n v=3 1704067200999999999
//! g,k=a\ b\,c\=d,e=x v=1 10
//! g,k=plain v=2 20
//! g v=3 30
//! u s="ls<U+2028>ps<U+2029>end" 1
//! u s="ctl<01><1f><7f><08><0c><CR>" 2
//! u s="html </script> \\" 3
//! q s=" lead" 1 / s="\\." 2 / s="<NBSP>nbsp" 3 / s="<TAB>tab" 4 / s="cr<CR>x" 5 / s="trail " 6 /
//!   s="<U+0085>nel" 7 / s="<U+3000>ideo" 8 / s="a\\.b" 9
//! ints v=127i,s="a"*31 1 / v=128i,s="b"*32 2 / v=255i 3 / v=256i 4 / v=32767i 5 / v=32768i 6 /
//!   v=2147483648i 7 / v=-32i 8 / v=-33i 9 / v=-129i 10 / v=-32769i 11 / v=-2147483649i 12
//! ```
//!
//! The fixtures rebuild the `StatementResult`s 1.x's engine produced for those queries.

use super::*;
use crate::query::result::{Message, QueryResponse, Series, StatementResult, Value};

const C_ALL: &str = "name,tags,time,b,f,host,i,region,s\nm,,1704067200000000000,true,0.1,a,1,us west,plain\nm,,1704067200123456789,true,0.0000001,a,9223372036854775807,us west,uni é ✓ 😀 <>&\nm,,1704067200500000000,false,1000000000000000000000,a,-9223372036854775808,us west,\"quote\"\" and \\ backslash\"\nm,,1704067201000000000,false,100,a,0,us west,\"new\nline\ttab\"\nm,,1704067202000000000,true,-0,b,5,eu,\"comma,here\"\nm,,1704067203000000000,true,179769313486231570000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000,b,6,eu,\nm,,1704067204000000000,true,0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005,b,7,eu,x\nm,,1704067205000000000,true,123456789012345680,b,8,eu,y\nm,,1704067206000000000,true,100000000000000000000,b,9,eu,z\nm,,1704067207000000000,true,0.000001,b,10,eu,z2\nm,,1704067208000000000,true,-0.00000000015,b,11,eu,z3\nm,,1704067209000000000,true,3,b,12,eu,u2028 \\u2028\n";
const C_CHUNK: &str = r#"name,tags,time,v
g,,30,3
g,k=plain,20,2
g,"e=x,k=a\ b\,c\=d",10,1

name,tags,time,v
n,,-1500000,1
n,,1,2
n,,1704067200999999999,3
"#;
const C_CHUNK_S: &str = r#"name,tags,time,v
n,,0,1
n,,0,2
n,,1704067200,3

name,tags,time,v
g,,0,3
g,k=plain,0,2
g,"e=x,k=a\ b\,c\=d",0,1
"#;
const C_EMPTY: &str = r#""#;
const C_INF: &str = r#"name,tags,time,ln,pow
n,,-1500000,-Inf,1
n,,1,-Inf,+Inf
n,,1704067200999999999,-Inf,+Inf
"#;
const C_MSG: &str = r#"name,tags,time,v
n,,-1500000,1
n,,1,2
n,,1704067200999999999,3
"#;
const C_MULTI: &str = r#"name,tags,time,v
g,,30,3
g,k=plain,20,2
g,"e=x,k=a\ b\,c\=d",10,1

name,tags,time,v
n,,-1500000,1
n,,1,2
n,,1704067200999999999,3
"#;
const C_MULTI2: &str = r#"name,tags,time,v
g,,20,2
g,,30,3
g,e=x,10,1

name,tags,time,e,k,v
g,,10,x,"a b,c=d",1
g,,20,,plain,2
g,,30,,,3

name,tags,time,v
n,,-1500000,1
n,,1,2
n,,1704067200999999999,3

name,tags,time,count
g,,0,1
g,"k=a\ b\,c\=d",0,1
g,k=plain,0,1
n,,0,3
"#;
const C_PERR: &str = r#"error
"error parsing query: found ,, expected identifier, string, number, bool at line 1, char 8"
"#;
const C_Q: &str = "name,tags,time,s\nq,,1,\" lead\"\nq,,2,\"\\.\"\nq,,3,\" nbsp\"\nq,,4,\"\ttab\"\nq,,5,\"cr\rx\"\nq,,6,trail \nq,,7,\"nel\"\nq,,8,\"　ideo\"\nq,,9,a\\.b\n";
const C_TIME: &str = r#"name,tags,time,v
n,,-1,1
n,,0,2
n,,1704067200999,3
"#;
const J_ALL: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"m","columns":["time","b","f","host","i","region","s"],"values":[["2024-01-01T00:00:00Z",true,0.1,"a",1,"us west","plain"],["2024-01-01T00:00:00.123456789Z",true,1e-7,"a",9223372036854775807,"us west","uni é ✓ 😀 \u003c\u003e\u0026"],["2024-01-01T00:00:00.5Z",false,1e+21,"a",-9223372036854775808,"us west","quote\" and \\ backslash"],["2024-01-01T00:00:01Z",false,100,"a",0,"us west","new\nline\ttab"],["2024-01-01T00:00:02Z",true,-0,"b",5,"eu","comma,here"],["2024-01-01T00:00:03Z",true,1.7976931348623157e+308,"b",6,"eu",""],["2024-01-01T00:00:04Z",true,5e-324,"b",7,"eu","x"],["2024-01-01T00:00:05Z",true,123456789012345680,"b",8,"eu","y"],["2024-01-01T00:00:06Z",true,100000000000000000000,"b",9,"eu","z"],["2024-01-01T00:00:07Z",true,0.000001,"b",10,"eu","z2"],["2024-01-01T00:00:08Z",true,-1.5e-10,"b",11,"eu","z3"],["2024-01-01T00:00:09Z",true,3,"b",12,"eu","u2028 \\u2028"]]}]}]}
"#;
const J_CHUNK2: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"n","columns":["time","v"],"values":[["1969-12-31T23:59:59.9985Z",1],["1970-01-01T00:00:00.000000001Z",2]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":0,"series":[{"name":"n","columns":["time","v"],"values":[["2024-01-01T00:00:00.999999999Z",3]]}]}]}
{"results":[{"statement_id":1,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","b","s"],"values":[["2024-01-01T00:00:00Z",true,"plain"],["2024-01-01T00:00:00.123456789Z",true,"uni é ✓ 😀 \u003c\u003e\u0026"]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":1,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","b","s"],"values":[["2024-01-01T00:00:00.5Z",false,"quote\" and \\ backslash"],["2024-01-01T00:00:01Z",false,"new\nline\ttab"]]}],"partial":true}]}
{"results":[{"statement_id":1,"series":[{"name":"m","tags":{"host":"b"},"columns":["time","b","s"],"values":[["2024-01-01T00:00:02Z",true,"comma,here"],["2024-01-01T00:00:03Z",true,""]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":1,"series":[{"name":"m","tags":{"host":"b"},"columns":["time","b","s"],"values":[["2024-01-01T00:00:04Z",true,"x"],["2024-01-01T00:00:05Z",true,"y"]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":1,"series":[{"name":"m","tags":{"host":"b"},"columns":["time","b","s"],"values":[["2024-01-01T00:00:06Z",true,"z"],["2024-01-01T00:00:07Z",true,"z2"]],"partial":true}],"partial":true}]}
{"results":[{"statement_id":1,"series":[{"name":"m","tags":{"host":"b"},"columns":["time","b","s"],"values":[["2024-01-01T00:00:08Z",true,"z3"],["2024-01-01T00:00:09Z",true,"u2028 \\u2028"]]}]}]}
{"results":[{"statement_id":2}]}
{"results":[{"statement_id":3,"series":[{"name":"g","tags":{"e":"","k":""},"columns":["time","v"],"values":[["1970-01-01T00:00:00.00000003Z",3]]}],"partial":true}]}
{"results":[{"statement_id":3,"series":[{"name":"g","tags":{"e":"","k":"plain"},"columns":["time","v"],"values":[["1970-01-01T00:00:00.00000002Z",2]]}],"partial":true}]}
{"results":[{"statement_id":3,"series":[{"name":"g","tags":{"e":"x","k":"a b,c=d"},"columns":["time","v"],"values":[["1970-01-01T00:00:00.00000001Z",1]]}]}]}
"#;
const J_CHUNK2P: &str = r#"{
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "n",
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1969-12-31T23:59:59.9985Z",
                            1
                        ],
                        [
                            "1970-01-01T00:00:00.000000001Z",
                            2
                        ]
                    ],
                    "partial": true
                }
            ],
            "partial": true
        }
    ]
}
{
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "n",
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "2024-01-01T00:00:00.999999999Z",
                            3
                        ]
                    ]
                }
            ]
        }
    ]
}
"#;
const J_DBERR: &str = r#"{"results":[{"statement_id":0,"error":"database not found: nodb"}]}
"#;
const J_EMPTY: &str = r#"{}
"#;
const J_EMPTYP: &str = r#"{}
"#;
const J_INF: &str = r#"json: error calling MarshalJSON for type httpd.Response: json: error calling MarshalJSON for type *query.Result: json: unsupported value: -Inf
"#;
const J_INFC: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"n","columns":["time","v"],"values":[["1970-01-01T00:00:00.000000001Z",2]]}]}]}
json: error calling MarshalJSON for type httpd.Response: json: error calling MarshalJSON for type *query.Result: json: unsupported value: -Inf
{"results":[{"statement_id":2,"series":[{"name":"n","columns":["time","v"],"values":[["1970-01-01T00:00:00.000000001Z",2]]}]}]}
"#;
const J_INFP: &str = r#"json: error calling MarshalJSON for type httpd.Response: json: error calling MarshalJSON for type *query.Result: json: unsupported value: +Inf
"#;
const J_MSG: &str = r#"{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"deprecated use of 'CREATE DATABASE x' in a read only context, please use a POST request instead"}]}]}
"#;
const J_MULTI: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"n","columns":["time","v"],"values":[["1969-12-31T23:59:59.9985Z",1],["1970-01-01T00:00:00.000000001Z",2],["2024-01-01T00:00:00.999999999Z",3]]}]},{"statement_id":1,"series":[{"name":"m","tags":{"host":"a"},"columns":["time","b","f"],"values":[["2024-01-01T00:00:00Z",true,0.1]]},{"name":"m","tags":{"host":"b"},"columns":["time","b","f"],"values":[["2024-01-01T00:00:02Z",true,-0]]}]},{"statement_id":2},{"statement_id":3,"series":[{"name":"g","tags":{"e":"","k":""},"columns":["time","v"],"values":[["1970-01-01T00:00:00.00000003Z",3]]},{"name":"g","tags":{"e":"","k":"plain"},"columns":["time","v"],"values":[["1970-01-01T00:00:00.00000002Z",2]]},{"name":"g","tags":{"e":"x","k":"a b,c=d"},"columns":["time","v"],"values":[["1970-01-01T00:00:00.00000001Z",1]]}]}]}
"#;
const J_PERR: &str = r#"{"error":"error parsing query: found EOF, expected identifier, string, number, bool at line 1, char 8"}
"#;
const J_PERRP: &str = r#"{
    "error": "error parsing query: found EOF, expected identifier, string, number, bool at line 1, char 8"
}
"#;
const J_PRETTY: &str = r#"{
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "n",
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1969-12-31T23:59:59.9985Z",
                            1
                        ],
                        [
                            "1970-01-01T00:00:00.000000001Z",
                            2
                        ],
                        [
                            "2024-01-01T00:00:00.999999999Z",
                            3
                        ]
                    ]
                }
            ]
        },
        {
            "statement_id": 1,
            "series": [
                {
                    "name": "m",
                    "tags": {
                        "host": "a"
                    },
                    "columns": [
                        "time",
                        "b",
                        "f"
                    ],
                    "values": [
                        [
                            "2024-01-01T00:00:00Z",
                            true,
                            0.1
                        ]
                    ]
                },
                {
                    "name": "m",
                    "tags": {
                        "host": "b"
                    },
                    "columns": [
                        "time",
                        "b",
                        "f"
                    ],
                    "values": [
                        [
                            "2024-01-01T00:00:02Z",
                            true,
                            -0
                        ]
                    ]
                }
            ]
        },
        {
            "statement_id": 2
        },
        {
            "statement_id": 3,
            "series": [
                {
                    "name": "g",
                    "tags": {
                        "e": "",
                        "k": ""
                    },
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1970-01-01T00:00:00.00000003Z",
                            3
                        ]
                    ]
                },
                {
                    "name": "g",
                    "tags": {
                        "e": "",
                        "k": "plain"
                    },
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1970-01-01T00:00:00.00000002Z",
                            2
                        ]
                    ]
                },
                {
                    "name": "g",
                    "tags": {
                        "e": "x",
                        "k": "a b,c=d"
                    },
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1970-01-01T00:00:00.00000001Z",
                            1
                        ]
                    ]
                }
            ]
        }
    ]
}
"#;
const J_TAGSP: &str = r#"{"results":[{"statement_id":0,"series":[{"name":"g","tags":{"k":""},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"g","tags":{"k":"a b,c=d"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"g","tags":{"k":"plain"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",1]]},{"name":"n","tags":{"k":""},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",3]]}]}]}
"#;
const J_U: &str = "{\"results\":[{\"statement_id\":0,\"series\":[{\"name\":\"u\",\"columns\":[\"time\",\"s\"],\"values\":[[\"1970-01-01T00:00:00.000000001Z\",\"ls\\u2028ps\\u2029end\"],[\"1970-01-01T00:00:00.000000002Z\",\"ctl\\u0001\\u001f\u{7f}\\u0008\\u000c\\r\"],[\"1970-01-01T00:00:00.000000003Z\",\"html \\u003c/script\\u003e \\\\\"]]}]}]}\n";
const M_ALL: &str = "81a7726573756c74739182ac73746174656d656e745f696400a67365726965739183a46e616d65a16da7636f6c756d6e7397a474696d65a162a166a4686f7374a169a6726567696f6ea173a676616c7565739c97c70c05000000006592008000000000c3cb3fb999999999999aa16101a775732077657374a5706c61696e97c70c050000000065920080075bcd15c3cb3e7ad7f29abcaf48a161d37fffffffffffffffa775732077657374b3756e6920c3a920e29c9320f09f9880203c3e2697c70c0500000000659200801dcd6500c2cb444b1ae4d6e2ef50a161d38000000000000000a775732077657374b671756f74652220616e64205c206261636b736c61736897c70c05000000006592008100000000c2cb4059000000000000a16100a775732077657374ac6e65770a6c696e650974616297c70c05000000006592008200000000c3cb8000000000000000a16205a26575aa636f6d6d612c6865726597c70c05000000006592008300000000c3cb7fefffffffffffffa16206a26575a097c70c05000000006592008400000000c3cb0000000000000001a16207a26575a17897c70c05000000006592008500000000c3cb437b69b4ba630f35a16208a26575a17997c70c05000000006592008600000000c3cb4415af1d78b58c40a16209a26575a17a97c70c05000000006592008700000000c3cb3eb0c6f7a0b5ed8da1620aa26575a27a3297c70c05000000006592008800000000c3cbbde49da7e361ce4ca1620ba26575a27a3397c70c05000000006592008900000000c3cb4008000000000000a1620ca26575ac7532303238205c7532303238";
const M_CHUNK: &str = "81a7726573756c74739183ac73746174656d656e745f696400a67365726965739184a46e616d65a167a47461677381a16ba76120622c633d64a7636f6c756d6e7392a474696d65a176a676616c756573919200cb3ff0000000000000a77061727469616cc381a7726573756c74739182ac73746174656d656e745f696400a67365726965739184a46e616d65a167a47461677381a16ba5706c61696ea7636f6c756d6e7392a474696d65a176a676616c756573919200cb4000000000000000";
const M_EMPTY: &str = "81a7726573756c74739282ac73746174656d656e745f696400a67365726965739082ac73746174656d656e745f696401a67365726965739183a46e616d65a16ea7636f6c756d6e7392a474696d65a176a676616c7565739192c70c0500000000659200803b9ac9ffcb4008000000000000";
const M_ERR: &str = "81a7726573756c74739181a56572726f72b86461746162617365206e6f7420666f756e643a206e6f6462";
const M_INTS: &str = "81a7726573756c74739182ac73746174656d656e745f696400a67365726965739183a46e616d65a4696e7473a7636f6c756d6e7393a474696d65a176a173a676616c7565739c93017fbf616161616161616161616161616161616161616161616161616161616161619302d10080d92062626262626262626262626262626262626262626262626262626262626262629303d100ffc09304d10100c09305d17fffc09306d200008000c09307d30000000080000000c09308e0c09309d0dfc0930ad1ff7fc0930bd2ffff7fffc0930cd3ffffffff7fffffffc0";
const M_MSG: &str = "81a7726573756c74739183ac73746174656d656e745f696400a86d657373616765739182a56c6576656ca77761726e696e67a474657874d95f6465707265636174656420757365206f66202743524541544520444154414241534520782720696e20612072656164206f6e6c7920636f6e746578742c20706c6561736520757365206120504f5354207265717565737420696e7374656164a673657269657390";
const M_N: &str = "81a7726573756c74739182ac73746174656d656e745f696400a67365726965739183a46e616d65a16ea7636f6c756d6e7392a474696d65a176a676616c7565739392c70c05ffffffffffffffff3b83e6a0cb3ff000000000000092c70c05000000000000000000000001cb400000000000000092c70c0500000000659200803b9ac9ffcb4008000000000000";
const M_NULLS: &str = "81a7726573756c74739282ac73746174656d656e745f696400a67365726965739484a46e616d65a167a47461677381a16ba0a7636f6c756d6e7392a474696d65a5636f756e74a676616c7565739192c70c050000000000000000000000000184a46e616d65a167a47461677381a16ba76120622c633d64a7636f6c756d6e7392a474696d65a5636f756e74a676616c7565739192c70c050000000000000000000000000184a46e616d65a167a47461677381a16ba5706c61696ea7636f6c756d6e7392a474696d65a5636f756e74a676616c7565739192c70c050000000000000000000000000184a46e616d65a16ea47461677381a16ba0a7636f6c756d6e7392a474696d65a5636f756e74a676616c7565739192c70c050000000000000000000000000382ac73746174656d656e745f696401a673657269657390";
const M_PERR: &str = "81a56572726f72d9596572726f722070617273696e672071756572793a20666f756e64202c2c206578706563746564206964656e7469666965722c20737472696e672c206e756d6265722c20626f6f6c206174206c696e6520312c20636861722038";

const J_SHOW: &str = r#"{"results":[{"statement_id":0,"series":[{"columns":["user","admin"]}]},{"statement_id":1,"series":[{"name":"db1","columns":["name","query"]},{"name":"t","columns":["name","query"]},{"name":"x","columns":["name","query"]}]},{"statement_id":2}]}
"#;
const C_SHOW: &str = r#"name,tags,user,admin

name,tags,name,query
"#;
const M_SHOW: &str = "81a7726573756c74739382ac73746174656d656e745f696400a67365726965739182a7636f6c756d6e7392a475736572a561646d696ea676616c7565739082ac73746174656d656e745f696401a67365726965739383a46e616d65a3646231a7636f6c756d6e7392a46e616d65a57175657279a676616c7565739083a46e616d65a174a7636f6c756d6e7392a46e616d65a57175657279a676616c7565739083a46e616d65a178a7636f6c756d6e7392a46e616d65a57175657279a676616c7565739082ac73746174656d656e745f696402a673657269657390";

const J_ALLP: &str = r#"{
    "results": [
        {
            "statement_id": 0,
            "series": [
                {
                    "name": "m",
                    "columns": [
                        "time",
                        "b",
                        "f",
                        "host",
                        "i",
                        "region",
                        "s"
                    ],
                    "values": [
                        [
                            "2024-01-01T00:00:00Z",
                            true,
                            0.1,
                            "a",
                            1,
                            "us west",
                            "plain"
                        ],
                        [
                            "2024-01-01T00:00:00.123456789Z",
                            true,
                            1e-7,
                            "a",
                            9223372036854775807,
                            "us west",
                            "uni é ✓ 😀 \u003c\u003e\u0026"
                        ],
                        [
                            "2024-01-01T00:00:00.5Z",
                            false,
                            1e+21,
                            "a",
                            -9223372036854775808,
                            "us west",
                            "quote\" and \\ backslash"
                        ],
                        [
                            "2024-01-01T00:00:01Z",
                            false,
                            100,
                            "a",
                            0,
                            "us west",
                            "new\nline\ttab"
                        ],
                        [
                            "2024-01-01T00:00:02Z",
                            true,
                            -0,
                            "b",
                            5,
                            "eu",
                            "comma,here"
                        ],
                        [
                            "2024-01-01T00:00:03Z",
                            true,
                            1.7976931348623157e+308,
                            "b",
                            6,
                            "eu",
                            ""
                        ],
                        [
                            "2024-01-01T00:00:04Z",
                            true,
                            5e-324,
                            "b",
                            7,
                            "eu",
                            "x"
                        ],
                        [
                            "2024-01-01T00:00:05Z",
                            true,
                            123456789012345680,
                            "b",
                            8,
                            "eu",
                            "y"
                        ],
                        [
                            "2024-01-01T00:00:06Z",
                            true,
                            100000000000000000000,
                            "b",
                            9,
                            "eu",
                            "z"
                        ],
                        [
                            "2024-01-01T00:00:07Z",
                            true,
                            0.000001,
                            "b",
                            10,
                            "eu",
                            "z2"
                        ],
                        [
                            "2024-01-01T00:00:08Z",
                            true,
                            -1.5e-10,
                            "b",
                            11,
                            "eu",
                            "z3"
                        ],
                        [
                            "2024-01-01T00:00:09Z",
                            true,
                            3,
                            "b",
                            12,
                            "eu",
                            "u2028 \\u2028"
                        ]
                    ]
                }
            ]
        }
    ]
}
"#;
const J_MSGP: &str = r#"{
    "results": [
        {
            "statement_id": 0,
            "messages": [
                {
                    "level": "warning",
                    "text": "deprecated use of 'CREATE DATABASE x' in a read only context, please use a POST request instead"
                }
            ]
        }
    ]
}
{
    "results": [
        {
            "statement_id": 1,
            "series": [
                {
                    "name": "g",
                    "tags": {
                        "k": "a b,c=d"
                    },
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1970-01-01T00:00:00.00000001Z",
                            1
                        ]
                    ]
                }
            ],
            "partial": true
        }
    ]
}
{
    "results": [
        {
            "statement_id": 1,
            "series": [
                {
                    "name": "g",
                    "tags": {
                        "k": "plain"
                    },
                    "columns": [
                        "time",
                        "v"
                    ],
                    "values": [
                        [
                            "1970-01-01T00:00:00.00000002Z",
                            2
                        ]
                    ]
                }
            ]
        }
    ]
}
"#;

// ---------------------------------------------------------------- fixtures

fn t(ns: i64) -> Value {
    Value::Time(ns)
}
fn fl(v: f64) -> Value {
    Value::Float(v)
}
fn int(v: i64) -> Value {
    Value::Integer(v)
}
fn st(v: &str) -> Value {
    Value::String(v.to_string())
}
fn bo(v: bool) -> Value {
    Value::Boolean(v)
}
const NULL: Value = Value::Null;

fn series(name: &str, tags: &[(&str, &str)], cols: &[&str], values: Vec<Vec<Value>>) -> Series {
    Series {
        name: name.to_string(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        columns: cols.iter().map(|c| c.to_string()).collect(),
        values,
        partial: false,
    }
}

fn res(id: usize, series: Vec<Series>) -> StatementResult {
    StatementResult { statement_id: id, series, ..Default::default() }
}

fn err(id: usize, e: &str) -> StatementResult {
    StatementResult { statement_id: id, error: Some(e.to_string()), ..Default::default() }
}

fn resp(results: Vec<StatementResult>) -> QueryResponse {
    QueryResponse { results, error: None }
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).expect("utf8")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const S: i64 = 1_000_000_000;
const T0: i64 = 1704067200 * S;

/// `SELECT * FROM m WHERE time < '2025-01-01T00:00:00Z'`
fn m_all() -> Series {
    let a = |ns, b, f, i, s: &str| vec![t(ns), bo(b), fl(f), st("a"), int(i), st("us west"), st(s)];
    let b = |ns, f, i, s: &str| vec![t(ns), bo(true), fl(f), st("b"), int(i), st("eu"), st(s)];
    series(
        "m",
        &[],
        &["time", "b", "f", "host", "i", "region", "s"],
        vec![
            a(T0, true, 0.1, 1, "plain"),
            a(T0 + 123456789, true, 1e-7, i64::MAX, "uni é ✓ 😀 <>&"),
            a(T0 + 500_000_000, false, 1e21, i64::MIN, "quote\" and \\ backslash"),
            a(T0 + S, false, 100.0, 0, "new\nline\ttab"),
            b(T0 + 2 * S, -0.0, 5, "comma,here"),
            b(T0 + 3 * S, f64::MAX, 6, ""),
            b(T0 + 4 * S, 5e-324, 7, "x"),
            b(T0 + 5 * S, 123456789012345678.0, 8, "y"),
            b(T0 + 6 * S, 1e20, 9, "z"),
            b(T0 + 7 * S, 0.000001, 10, "z2"),
            b(T0 + 8 * S, -1.5e-10, 11, "z3"),
            b(T0 + 9 * S, 3.0, 12, "u2028 \\u2028"),
        ],
    )
}

/// `SELECT * FROM n`
fn n_all() -> Series {
    series(
        "n",
        &[],
        &["time", "v"],
        vec![vec![t(-1500000), fl(1.0)], vec![t(1), fl(2.0)], vec![t(1704067200999999999), fl(3.0)]],
    )
}

/// `SELECT v FROM g GROUP BY *`
fn g_by_all() -> Vec<Series> {
    vec![
        series("g", &[("e", ""), ("k", "")], &["time", "v"], vec![vec![t(30), fl(3.0)]]),
        series("g", &[("e", ""), ("k", "plain")], &["time", "v"], vec![vec![t(20), fl(2.0)]]),
        series("g", &[("e", "x"), ("k", "a b,c=d")], &["time", "v"], vec![vec![t(10), fl(1.0)]]),
    ]
}

/// `SELECT b, s FROM m WHERE time < '2025-01-01T00:00:00Z' GROUP BY host`
fn m_bs_by_host() -> Vec<Series> {
    let all = m_all();
    let pick = |host: &str| {
        let rows = all
            .values
            .iter()
            .filter(|r| r[3] == st(host))
            .map(|r| vec![r[0].clone(), r[1].clone(), r[6].clone()])
            .collect();
        series("m", &[("host", host)], &["time", "b", "s"], rows)
    };
    vec![pick("a"), pick("b")]
}

/// `SELECT count(v) FROM n,g GROUP BY k`
fn count_by_k() -> Vec<Series> {
    vec![
        series("g", &[("k", "")], &["time", "count"], vec![vec![t(0), int(1)]]),
        series("g", &[("k", "a b,c=d")], &["time", "count"], vec![vec![t(0), int(1)]]),
        series("g", &[("k", "plain")], &["time", "count"], vec![vec![t(0), int(1)]]),
        series("n", &[("k", "")], &["time", "count"], vec![vec![t(0), int(3)]]),
    ]
}

fn deprecated_msg() -> StatementResult {
    StatementResult {
        statement_id: 0,
        messages: vec![Message {
            level: "warning".into(),
            text: "deprecated use of 'CREATE DATABASE x' in a read only context, please use a POST request instead"
                .into(),
        }],
        ..Default::default()
    }
}

fn json(r: &QueryResponse) -> String {
    text(encode_response(r, Format::Json, Epoch::Rfc3339, false))
}

/// Encodes a chunked response: every statement cut by `chunk`, each piece its own document.
fn chunked(results: Vec<StatementResult>, size: usize, format: Format, epoch: Epoch, pretty: bool) -> Vec<u8> {
    let mut enc = Encoder::new(format, epoch, pretty);
    let mut out = Vec::new();
    for r in results {
        for piece in chunk(r, size) {
            enc.write_chunk(&piece, &mut out);
        }
    }
    out
}

// ---------------------------------------------------------------- parameters

#[test]
fn accept_header() {
    assert_eq!(Format::from_accept(None), Format::Json);
    assert_eq!(Format::from_accept(Some("application/json")), Format::Json);
    assert_eq!(Format::from_accept(Some("application/csv")), Format::Csv);
    assert_eq!(Format::from_accept(Some("text/csv")), Format::Csv);
    assert_eq!(Format::from_accept(Some("application/x-msgpack")), Format::Msgpack);
    assert_eq!(Format::from_accept(Some("text/csv; charset=utf-8")), Format::Json);
    assert_eq!(Format::from_accept(Some("text/csv, */*")), Format::Json);
    assert_eq!(Format::from_accept(Some("TEXT/CSV")), Format::Json);
    assert_eq!(Format::from_accept(Some("*/*")), Format::Json);
    assert_eq!(Format::Json.content_type(), "application/json");
    assert_eq!(Format::Csv.content_type(), "text/csv");
    assert_eq!(Format::Msgpack.content_type(), "application/x-msgpack");
}

#[test]
fn epoch_param() {
    // influxd 1.6.7: epoch=µ, epoch=xyz and epoch=ns all answered nanoseconds; "epoch= s " seconds;
    // "epoch=" RFC3339.
    assert_eq!(Epoch::parse(None), Epoch::Rfc3339);
    assert_eq!(Epoch::parse(Some("")), Epoch::Rfc3339);
    assert_eq!(Epoch::parse(Some("  ")), Epoch::Rfc3339);
    assert_eq!(Epoch::parse(Some("n")), Epoch::Ns);
    assert_eq!(Epoch::parse(Some("ns")), Epoch::Ns);
    assert_eq!(Epoch::parse(Some("µ")), Epoch::Ns);
    assert_eq!(Epoch::parse(Some("xyz")), Epoch::Ns);
    assert_eq!(Epoch::parse(Some("u")), Epoch::Us);
    assert_eq!(Epoch::parse(Some("ms")), Epoch::Ms);
    assert_eq!(Epoch::parse(Some(" s ")), Epoch::S);
    assert_eq!(Epoch::parse(Some("m")), Epoch::M);
    assert_eq!(Epoch::parse(Some("h")), Epoch::H);
}

#[test]
fn chunk_size_param() {
    assert_eq!(parse_chunk_size(false, Some("2")), 10000);
    assert_eq!(parse_chunk_size(true, Some("2")), 2);
    assert_eq!(parse_chunk_size(true, Some("0")), 10000);
    assert_eq!(parse_chunk_size(true, Some("-5")), 10000);
    assert_eq!(parse_chunk_size(true, Some("x")), 10000);
    assert_eq!(parse_chunk_size(true, None), 10000);
}

// ---------------------------------------------------------------- JSON

#[test]
fn json_all_types() {
    // GET /query?db=t q=SELECT * FROM m WHERE time < '2025-01-01T00:00:00Z'
    assert_eq!(json(&resp(vec![res(0, vec![m_all()])])), J_ALL);
}

#[test]
fn json_string_escapes() {
    // q=SELECT s FROM u
    let u = series(
        "u",
        &[],
        &["time", "s"],
        vec![
            vec![t(1), st("ls\u{2028}ps\u{2029}end")],
            vec![t(2), st("ctl\u{1}\u{1f}\u{7f}\u{8}\u{c}\r")],
            vec![t(3), st("html </script> \\")],
        ],
    );
    assert_eq!(json(&resp(vec![res(0, vec![u])])), J_U);
}

#[test]
fn json_epochs() {
    // q=SELECT * FROM n with epoch=ms / u / µ (→ ns) / h; negative times truncate toward zero.
    let r = resp(vec![res(0, vec![n_all()])]);
    let e = |ep| text(encode_response(&r, Format::Json, ep, false));
    let wrap = |vals: &str| {
        format!(r#"{{"results":[{{"statement_id":0,"series":[{{"name":"n","columns":["time","v"],"values":{vals}}}]}}]}}"#)
            + "\n"
    };
    assert_eq!(e(Epoch::Ms), wrap("[[-1,1],[0,2],[1704067200999,3]]"));
    assert_eq!(e(Epoch::Us), wrap("[[-1500,1],[0,2],[1704067200999999,3]]"));
    assert_eq!(e(Epoch::Ns), wrap("[[-1500000,1],[1,2],[1704067200999999999,3]]"));
    assert_eq!(e(Epoch::S), wrap("[[0,1],[0,2],[1704067200,3]]"));
    assert_eq!(e(Epoch::H), wrap("[[0,1],[0,2],[473352,3]]"));
    assert_eq!(
        e(Epoch::Rfc3339),
        wrap(r#"[["1969-12-31T23:59:59.9985Z",1],["1970-01-01T00:00:00.000000001Z",2],["2024-01-01T00:00:00.999999999Z",3]]"#)
    );
}

#[test]
fn json_epoch_only_first_column() {
    let s = series("x", &[], &["time", "other"], vec![vec![t(2 * S), t(S)]]);
    let out = text(encode_response(&resp(vec![res(0, vec![s])]), Format::Json, Epoch::S, false));
    assert!(out.contains(r#"[[2,"1970-01-01T00:00:01Z"]]"#), "{out}");
}

fn multi() -> QueryResponse {
    let mut by_host = m_bs_by_host();
    for s in &mut by_host {
        s.columns = vec!["time".into(), "b".into(), "f".into()];
        s.values.truncate(1);
    }
    by_host[0].values = vec![vec![t(T0), bo(true), fl(0.1)]];
    by_host[1].values = vec![vec![t(T0 + 2 * S), bo(true), fl(-0.0)]];
    resp(vec![res(0, vec![n_all()]), res(1, by_host), res(2, vec![]), res(3, g_by_all())])
}

#[test]
fn json_multi_statement_and_tags() {
    // q=SELECT * FROM n; SELECT b,f FROM m WHERE time < '2025-01-01T00:00:00Z' GROUP BY host LIMIT 1;
    //   SELECT * FROM nothere; SELECT v FROM g GROUP BY *
    assert_eq!(json(&multi()), J_MULTI);
}

#[test]
fn json_pretty() {
    // same request with pretty=true
    assert_eq!(text(encode_response(&multi(), Format::Json, Epoch::Rfc3339, true)), J_PRETTY);
}

#[test]
fn json_empty_tag_values() {
    // q=SELECT count(v) FROM n,g GROUP BY k
    assert_eq!(json(&resp(vec![res(0, count_by_k())])), J_TAGSP);
}

#[test]
fn json_messages_and_errors() {
    // GET q=CREATE DATABASE x
    assert_eq!(json(&resp(vec![deprecated_msg()])), J_MSG);
    // q=SHOW TAG KEYS ON nodb
    assert_eq!(json(&resp(vec![err(0, "database not found: nodb")])), J_DBERR);
    // q=;  (no statements)
    assert_eq!(json(&resp(vec![])), J_EMPTY);
    assert_eq!(text(encode_response(&resp(vec![]), Format::Json, Epoch::Rfc3339, true)), J_EMPTYP);
}

#[test]
fn json_request_error() {
    // q=SELECT  → 400
    let msg = "error parsing query: found EOF, expected identifier, string, number, bool at line 1, char 8";
    let mut out = Vec::new();
    Encoder::new(Format::Json, Epoch::Rfc3339, false).write_error(msg, &mut out);
    assert_eq!(text(out), J_PERR);
    let mut out = Vec::new();
    Encoder::new(Format::Json, Epoch::Rfc3339, true).write_error(msg, &mut out);
    assert_eq!(text(out), J_PERRP);
    let r = QueryResponse { results: vec![], error: Some(msg.into()) };
    assert_eq!(json(&r), J_PERR);
}

#[test]
fn json_non_finite() {
    // q=SELECT ln(0 * v) FROM n
    let ln = series("n", &[], &["time", "ln"], n_all().values.iter().map(|r| vec![r[0].clone(), fl(f64::NEG_INFINITY)]).collect());
    assert_eq!(json(&resp(vec![res(0, vec![ln.clone()])])), J_INF);
    // pretty=true q=SELECT pow(v, 10000) FROM n
    let pow = series(
        "n",
        &[],
        &["time", "pow"],
        vec![vec![t(-1500000), fl(1.0)], vec![t(1), fl(f64::INFINITY)], vec![t(1704067200999999999), fl(f64::INFINITY)]],
    );
    assert_eq!(text(encode_response(&resp(vec![res(0, vec![pow])]), Format::Json, Epoch::Rfc3339, true)), J_INFP);
    // chunked=true q=SELECT * FROM n WHERE time=1; SELECT ln(0 * v) FROM n; SELECT * FROM n WHERE time=1
    let one = || series("n", &[], &["time", "v"], vec![vec![t(1), fl(2.0)]]);
    let out = chunked(vec![res(0, vec![one()]), res(1, vec![ln]), res(2, vec![one()])], 10000, Format::Json, Epoch::Rfc3339, false);
    assert_eq!(text(out), J_INFC);
    let nan = series("n", &[], &["time", "x"], vec![vec![t(1), fl(f64::NAN)]]);
    assert!(json(&resp(vec![res(0, vec![nan])])).ends_with("json: unsupported value: NaN\n"));
}

#[test]
fn json_chunked() {
    // chunked=true&chunk_size=2 q=SELECT * FROM n; SELECT b, s FROM m WHERE time < '2025-01-01T00:00:00Z'
    //   GROUP BY host; SELECT * FROM nothere; SELECT v FROM g GROUP BY *
    let results = vec![res(0, vec![n_all()]), res(1, m_bs_by_host()), res(2, vec![]), res(3, g_by_all())];
    assert_eq!(text(chunked(results, 2, Format::Json, Epoch::Rfc3339, false)), J_CHUNK2);
    // chunked=true&chunk_size=2&pretty=true q=SELECT * FROM n
    assert_eq!(text(chunked(vec![res(0, vec![n_all()])], 2, Format::Json, Epoch::Rfc3339, true)), J_CHUNK2P);
}

// ---------------------------------------------------------------- chunking

#[test]
fn chunk_flags() {
    let rows = |n: usize| (0..n).map(|i| vec![t(i as i64), int(i as i64)]).collect::<Vec<_>>();
    let a = series("a", &[], &["time", "v"], rows(5));
    let b = series("b", &[], &["time", "v"], rows(2));
    let pieces: Vec<_> = chunk(res(3, vec![a, b]), 2).collect();
    let shape: Vec<_> = pieces
        .iter()
        .map(|p| (p.statement_id, p.series[0].name.as_str(), p.series[0].values.len(), p.series[0].partial, p.partial))
        .collect();
    assert_eq!(
        shape,
        vec![
            (3, "a", 2, true, true),
            (3, "a", 2, true, true),
            (3, "a", 1, false, true),
            (3, "b", 2, false, false),
        ]
    );
    // Errors and empty results pass through.
    assert_eq!(chunk(err(1, "x"), 2).collect::<Vec<_>>(), vec![err(1, "x")]);
    assert_eq!(chunk(res(2, vec![]), 2).collect::<Vec<_>>(), vec![res(2, vec![])]);
    // Messages ride on the first piece.
    let mut m = res(0, vec![series("a", &[], &["time"], rows(3).into_iter().map(|r| vec![r[0].clone()]).collect())]);
    m.messages = deprecated_msg().messages;
    let p: Vec<_> = chunk(m, 2).collect();
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].messages.len(), 1);
    assert!(p[1].messages.is_empty());
}

#[test]
fn row_chunker_matches_chunk() {
    let all = m_bs_by_host();
    let mut rc = RowChunker::new(1, all[0].columns.clone(), 2);
    let mut got = Vec::new();
    for s in &all {
        for row in &s.values {
            got.extend(rc.push(&s.name, &s.tags, row.clone()));
        }
    }
    got.extend(rc.finish());
    let want: Vec<_> = chunk(res(1, all), 2).collect();
    assert_eq!(got, want);
    assert_eq!(RowChunker::new(4, vec![], 2).finish(), Some(res(4, vec![])));
}

#[test]
fn split_and_buffered() {
    let pieces: Vec<_> = split_series(res(0, count_by_k())).collect();
    assert_eq!(pieces.len(), 4);
    assert!(pieces.iter().all(|p| !p.partial && !p.series[0].partial && p.series.len() == 1));
    // influxd 1.6.7, non-chunked SELECT of a series with 10003 rows: that series has "partial":true.
    let big = series("big", &[("h", "x")], &["time", "v"], (0..10003).map(|i| vec![t(i), fl(i as f64)]).collect());
    let small = series("big", &[("h", "y")], &["time", "v"], vec![vec![t(1), fl(0.0)]]);
    let mut r = res(0, vec![big, small]);
    mark_buffered_partials(&mut r);
    assert!(r.series[0].partial && !r.series[1].partial && !r.partial);
}

// ---------------------------------------------------------------- CSV

fn csv(r: &QueryResponse, epoch: Epoch) -> String {
    text(encode_response(r, Format::Csv, epoch, false))
}

#[test]
fn csv_all_types() {
    // Accept: text/csv q=SELECT * FROM m WHERE time < '2025-01-01T00:00:00Z'
    assert_eq!(csv(&resp(vec![res(0, vec![m_all()])]), Epoch::Rfc3339), C_ALL);
}

#[test]
fn csv_quoting() {
    // Accept: text/csv q=SELECT s FROM q
    let vals = [" lead", "\\.", "\u{a0}nbsp", "\ttab", "cr\rx", "trail ", "\u{85}nel", "\u{3000}ideo", "a\\.b"];
    let q = series("q", &[], &["time", "s"], vals.iter().enumerate().map(|(i, v)| vec![t(i as i64 + 1), st(v)]).collect());
    assert_eq!(csv(&resp(vec![res(0, vec![q])]), Epoch::Rfc3339), C_Q);
}

#[test]
fn csv_multi_statement_skips_errors_and_empties() {
    // Accept: application/csv q=SELECT v FROM g GROUP BY *; SELECT * FROM nothere; SELECT * FROM n;
    //   SHOW TAG KEYS ON nodb
    let r = resp(vec![res(0, g_by_all()), res(1, vec![]), res(2, vec![n_all()]), err(3, "database not found: nodb")]);
    assert_eq!(csv(&r, Epoch::Rfc3339), C_MULTI);
    // Accept: application/csv q=SELECT v FROM g GROUP BY e; SELECT * FROM g; SELECT * FROM n;
    //   SELECT * FROM nothere; SELECT count(v) FROM n,g GROUP BY k
    let by_e = vec![
        series("g", &[("e", "")], &["time", "v"], vec![vec![t(20), fl(2.0)], vec![t(30), fl(3.0)]]),
        series("g", &[("e", "x")], &["time", "v"], vec![vec![t(10), fl(1.0)]]),
    ];
    let g_all = series(
        "g",
        &[],
        &["time", "e", "k", "v"],
        vec![
            vec![t(10), st("x"), st("a b,c=d"), fl(1.0)],
            vec![t(20), NULL, st("plain"), fl(2.0)],
            vec![t(30), NULL, NULL, fl(3.0)],
        ],
    );
    let r = resp(vec![res(0, by_e), res(1, vec![g_all]), res(2, vec![n_all()]), res(3, vec![]), res(4, count_by_k())]);
    assert_eq!(csv(&r, Epoch::Rfc3339), C_MULTI2);
}

#[test]
fn csv_header_repeats_when_columns_change() {
    let a = series("a", &[], &["time", "x"], vec![vec![t(1), int(1)]]);
    let b = series("b", &[], &["time", "y"], vec![vec![t(2), int(2)]]);
    let c = series("c", &[], &["time", "y"], vec![vec![t(3), int(3)]]);
    let out = csv(&resp(vec![res(0, vec![a, b, c])]), Epoch::Rfc3339);
    assert_eq!(out, "name,tags,time,x\na,,1,1\n\nname,tags,time,y\nb,,2,2\nc,,3,3\n");
}

#[test]
fn csv_epoch_messages_errors() {
    // Accept: text/csv epoch=ms q=SELECT * FROM n
    assert_eq!(csv(&resp(vec![res(0, vec![n_all()])]), Epoch::Ms), C_TIME);
    // Accept: text/csv GET q=CREATE DATABASE x; SELECT * FROM n
    let r = resp(vec![deprecated_msg(), res(1, vec![n_all()])]);
    assert_eq!(csv(&r, Epoch::Rfc3339), C_MSG);
    // Accept: text/csv q=;
    assert_eq!(csv(&resp(vec![]), Epoch::Rfc3339), C_EMPTY);
    // Accept: text/csv q=SELECT , FROM  → 400
    let mut out = Vec::new();
    Encoder::new(Format::Csv, Epoch::Rfc3339, false)
        .write_error("error parsing query: found ,, expected identifier, string, number, bool at line 1, char 8", &mut out);
    assert_eq!(text(out), C_PERR);
    let mut out = Vec::new();
    Encoder::new(Format::Csv, Epoch::Rfc3339, false).write_error("missing required parameter \"q\"", &mut out);
    assert_eq!(text(out), "error\n\"missing required parameter \"\"q\"\"\"\n");
}

#[test]
fn csv_non_finite() {
    // Accept: text/csv q=SELECT ln(0 * v), pow(v,10000) FROM n
    let s = series(
        "n",
        &[],
        &["time", "ln", "pow"],
        vec![
            vec![t(-1500000), fl(f64::NEG_INFINITY), fl(1.0)],
            vec![t(1), fl(f64::NEG_INFINITY), fl(f64::INFINITY)],
            vec![t(1704067200999999999), fl(f64::NEG_INFINITY), fl(f64::INFINITY)],
        ],
    );
    assert_eq!(csv(&resp(vec![res(0, vec![s])]), Epoch::Rfc3339), C_INF);
}

#[test]
fn csv_chunked() {
    // Accept: application/csv chunked=true&chunk_size=1 q=SELECT v FROM g GROUP BY *;
    //   SELECT * FROM nothere; SELECT * FROM n
    let out = chunked(vec![res(0, g_by_all()), res(1, vec![]), res(2, vec![n_all()])], 1, Format::Csv, Epoch::Rfc3339, false);
    assert_eq!(text(out), C_CHUNK);
    // Accept: application/csv chunked=true&chunk_size=2&epoch=s q=SELECT * FROM n; SELECT v FROM g GROUP BY *
    let out = chunked(vec![res(0, vec![n_all()]), res(1, g_by_all())], 2, Format::Csv, Epoch::S, false);
    assert_eq!(text(out), C_CHUNK_S);
}

// ---------------------------------------------------------------- msgpack

fn mp(r: &QueryResponse, epoch: Epoch) -> String {
    hex(&encode_response(r, Format::Msgpack, epoch, false))
}

#[test]
fn msgpack_basic_and_time_ext() {
    // Accept: application/x-msgpack q=SELECT * FROM n
    assert_eq!(mp(&resp(vec![res(0, vec![n_all()])]), Epoch::Rfc3339), M_N);
    // q=SELECT * FROM m WHERE time < '2025-01-01T00:00:00Z'
    assert_eq!(mp(&resp(vec![res(0, vec![m_all()])]), Epoch::Rfc3339), M_ALL);
}

#[test]
fn msgpack_integer_and_string_widths() {
    // Accept: application/x-msgpack epoch=ns q=SELECT v,s FROM ints
    let vs = [127i64, 128, 255, 256, 32767, 32768, 2147483648, -32, -33, -129, -32769, -2147483649];
    let rows = vs
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let s = match i {
                0 => st(&"a".repeat(31)),
                1 => st(&"b".repeat(32)),
                _ => NULL,
            };
            vec![t(i as i64 + 1), int(*v), s]
        })
        .collect();
    let s = series("ints", &[], &["time", "v", "s"], rows);
    assert_eq!(mp(&resp(vec![res(0, vec![s])]), Epoch::Ns), M_INTS);
}

#[test]
fn msgpack_errors_messages_empties() {
    // q=SELECT , FROM → 400
    let mut out = Vec::new();
    Encoder::new(Format::Msgpack, Epoch::Rfc3339, false)
        .write_error("error parsing query: found ,, expected identifier, string, number, bool at line 1, char 8", &mut out);
    assert_eq!(hex(&out), M_PERR);
    // q=SHOW TAG KEYS ON nodb: an errored result is just {"error": ...}, no statement_id
    assert_eq!(mp(&resp(vec![err(0, "database not found: nodb")]), Epoch::Rfc3339), M_ERR);
    // GET q=CREATE DATABASE x
    assert_eq!(mp(&resp(vec![deprecated_msg()]), Epoch::Rfc3339), M_MSG);
    // q=SELECT * FROM nothere; SELECT * FROM n WHERE time > 5
    let last = series("n", &[], &["time", "v"], vec![vec![t(1704067200999999999), fl(3.0)]]);
    assert_eq!(mp(&resp(vec![res(0, vec![]), res(1, vec![last])]), Epoch::Rfc3339), M_EMPTY);
    // q=SELECT count(v) FROM n,g GROUP BY k; SELECT b, i FROM m, n WHERE time < 3
    assert_eq!(mp(&resp(vec![res(0, count_by_k()), res(1, vec![])]), Epoch::Rfc3339), M_NULLS);
}

#[test]
fn msgpack_chunked() {
    // Accept: application/x-msgpack chunked=true&chunk_size=1&epoch=s
    //   q=SELECT v FROM g WHERE time<25 GROUP BY k
    let s = vec![
        series("g", &[("k", "a b,c=d")], &["time", "v"], vec![vec![t(10), fl(1.0)]]),
        series("g", &[("k", "plain")], &["time", "v"], vec![vec![t(20), fl(2.0)]]),
    ];
    assert_eq!(hex(&chunked(vec![res(0, s)], 1, Format::Msgpack, Epoch::S, false)), M_CHUNK);
}

// ---------------------------------------------------------------- gzip

#[test]
fn gzip_roundtrip() {
    use std::io::Read;
    assert!(accepts_gzip(Some("gzip, deflate")));
    assert!(accepts_gzip(Some("x-gzip")));
    assert!(!accepts_gzip(Some("deflate")));
    assert!(!accepts_gzip(None));
    let mut g = GzipStream::new();
    let mut body = g.push(J_ALL.as_bytes(), true).unwrap();
    // After a flush everything so far is decodable.
    assert!(!body.is_empty());
    body.extend(g.push(J_MULTI.as_bytes(), true).unwrap());
    body.extend(g.finish().unwrap());
    let mut d = String::new();
    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut d).unwrap();
    assert_eq!(d, format!("{J_ALL}{J_MULTI}"));
    let mut d = String::new();
    flate2::read::GzDecoder::new(&gzip_bytes(b"abc").unwrap()[..]).read_to_string(&mut d).unwrap();
    assert_eq!(d, "abc");
}

#[test]
fn series_without_name_or_values() {
    // q=SHOW USERS; SHOW CONTINUOUS QUERIES; SHOW SUBSCRIPTIONS (databases db1, t, x; no users,
    // no CQs, no subscriptions), with Accept: application/json, text/csv, application/x-msgpack.
    let cq = |db: &str| series(db, &[], &["name", "query"], vec![]);
    let r = resp(vec![
        res(0, vec![series("", &[], &["user", "admin"], vec![])]),
        res(1, vec![cq("db1"), cq("t"), cq("x")]),
        res(2, vec![]),
    ]);
    assert_eq!(json(&r), J_SHOW);
    assert_eq!(csv(&r, Epoch::Rfc3339), C_SHOW);
    assert_eq!(mp(&r, Epoch::Rfc3339), M_SHOW);
}

#[test]
fn json_pretty_strings_messages_chunks() {
    // pretty=true q=SELECT * FROM m WHERE time < '2025-01-01T00:00:00Z'
    let r = resp(vec![res(0, vec![m_all()])]);
    assert_eq!(text(encode_response(&r, Format::Json, Epoch::Rfc3339, true)), J_ALLP);
    // GET pretty=true&chunked=true&chunk_size=1 q=CREATE DATABASE x; SELECT v FROM g WHERE time<25 GROUP BY k
    let g = vec![
        series("g", &[("k", "a b,c=d")], &["time", "v"], vec![vec![t(10), fl(1.0)]]),
        series("g", &[("k", "plain")], &["time", "v"], vec![vec![t(20), fl(2.0)]]),
    ];
    let out = chunked(vec![deprecated_msg(), res(1, g)], 1, Format::Json, Epoch::Rfc3339, true);
    assert_eq!(text(out), J_MSGP);
}
