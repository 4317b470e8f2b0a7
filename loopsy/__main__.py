from loopsy.cli.main import main

raise SystemExit(main())
