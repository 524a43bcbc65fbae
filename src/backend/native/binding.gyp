{
  "targets": [
    {
      "target_name": "medrel_native",
      "sources": ["medrel_native.c", "pool.c"],
      "cflags": ["<!@(sh flags.sh cflags)"],
      "libraries": ["<!@(sh flags.sh libs)"]
    }
  ]
}
