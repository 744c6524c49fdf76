from bluegreen.console import main

raise SystemExit(main())
