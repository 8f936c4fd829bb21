# Shortcuts for the npm scripts.
.PHONY: install start test bench generate typecheck lint

install:
	npm ci
start:
	npm start
test:
	npm test
bench:
	npm run bench
generate:
	npm run generate
typecheck:
	npm run typecheck
lint:
	npm run lint
