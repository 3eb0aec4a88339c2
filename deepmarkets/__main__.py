from deepmarkets.cli import main

raise SystemExit(main())
